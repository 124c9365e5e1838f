# contrib/bench/plot.gp: time and memory of the shmem-holes benchmark, plain kernel vs ucow.
# Called by contrib/bench/run with -e "datafile='...'; outfile='...'; termspec='...'; plottitle='...'".
# The data file has: op plain_time_ms ucow_time_ms plain_mem_mib ucow_mem_mib
if (!exists("datafile")) datafile = 'shmem-holes.dat'
if (!exists("outfile")) outfile = 'shmem-holes.svg'
if (!exists("termspec")) termspec = "svg size 900,420 dynamic background rgb 'white'"
if (!exists("plottitle")) plottitle = 'MAP_PRIVATE shmem holes'

set terminal @termspec
set output outfile
set termoption noenhanced
set multiplot layout 1,2 title plottitle
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key below horizontal
set yrange [0:*]

set title 'time (lower is better)'
set ylabel 'ms'
plot datafile using 2:xtic(1) title 'plain kernel' lc rgb '#888888', \
     '' using 3 title 'ucow' lc rgb '#2a7ab0'

set title 'memory: file + anonymous (lower is better)'
set ylabel 'MiB'
plot datafile using 4:xtic(1) title 'plain kernel' lc rgb '#888888', \
     '' using 5 title 'ucow' lc rgb '#2a7ab0'
unset multiplot
