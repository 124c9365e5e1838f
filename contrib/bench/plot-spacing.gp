# contrib/bench/plot-spacing.gp: the shmem-spacing benchmark, ucow/plain time and pages per hole
# for each data spacing. Called by contrib/bench/run with -e "datafile='...'; outfile='...'; ...".
# The data file has: spacing seq_ratio rand_ratio read_ratio seq_pph rand_pph read_pph
#                    plain_write_pph plain_read_pph
if (!exists("datafile")) datafile = 'shmem-spacing.dat'
if (!exists("outfile")) outfile = 'shmem-spacing.svg'
if (!exists("termspec")) termspec = "svg size 1200,420 dynamic background rgb 'white'"
if (!exists("plottitle")) plottitle = 'MAP_PRIVATE shmem holes with data pages among them'

set terminal @termspec
set output outfile
set termoption noenhanced
set multiplot layout 1,2 title plottitle
set grid ytics
set key below horizontal
set xlabel 'a data page every N pages'
set style line 1 lc rgb '#2a7ab0' lw 2 pt 7
set style line 2 lc rgb '#d9822b' lw 2 pt 5
set style line 3 lc rgb '#3a9a4a' lw 2 pt 9
set style line 4 lc rgb '#000000' lw 1.5 dt 2

set title 'time, ucow / plain kernel (log; lower is better; dashed: targets)'
set ylabel 'ucow / plain'
set logscale y
set yrange [0.005:*]
plot datafile using 0:2:xtic(1) with linespoints ls 1 title 'seq-write', \
     '' using 0:3 with linespoints ls 2 title 'rand-write', \
     '' using 0:4 with linespoints ls 3 title 'read', \
     1 with lines lc rgb '#000000' title 'kernel', \
     0.5 with lines ls 1 dt 2 notitle, 0.7 with lines ls 2 dt 2 notitle, \
     0.1 with lines ls 3 dt 2 notitle

unset logscale y
set title 'memory: pages per hole touched (lower is better)'
set ylabel 'pages'
set yrange [0:2.2]
plot datafile using 0:5:xtic(1) with linespoints ls 1 title 'ucow seq-write', \
     '' using 0:6 with linespoints ls 2 title 'ucow rand-write', \
     '' using 0:7 with linespoints ls 3 title 'ucow read', \
     '' using 0:8 with lines ls 4 title 'kernel write', \
     '' using 0:9 with lines ls 4 dt 3 title 'kernel read'
unset multiplot
