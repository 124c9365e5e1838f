# contrib/bench/plot-refpage.gp: the refpage benchmark, memset vs ucow reference pages, per
# amount touched: time per map+touch+unmap, the gain next to the kernel proposal's and the
# target, and the process's peak RSS. Called by contrib/bench/run with
# -e "datafile='...'; outfile='...'; termspec='...'; plottitle='...'".
# The data file has: label memset_ms refpage_ms memset_rss_kib refpage_rss_kib gain
# kernel_gain target_gain
if (!exists("datafile")) datafile = 'refpage.dat'
if (!exists("outfile")) outfile = 'refpage.svg'
if (!exists("termspec")) termspec = "svg size 1200,420 dynamic background rgb 'white'"
if (!exists("plottitle")) plottitle = 'reference pages vs memset'

set terminal @termspec
set output outfile
set termoption noenhanced
set multiplot layout 1,3 title plottitle
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key below horizontal
set xlabel 'bytes touched'

set title 'time per map+touch+unmap (lower is better)'
set ylabel 'ms'
set yrange [0:*]
plot datafile using 2:xtic(1) title 'memset' lc rgb '#888888', \
     '' using 3 title 'ucow refpage' lc rgb '#2a7ab0'

set title 'gain = 1 - refpage/memset (higher is better)'
set ylabel 'gain'
set yrange [*:1]
plot datafile using 6:xtic(1) title 'ucow refpage' lc rgb '#2a7ab0', \
     '' using 7 title 'kernel proposal' lc rgb '#c07020', \
     '' using 0:8 with points pt 7 ps 1.5 lc rgb 'black' title 'target'

set title 'peak RSS of the process (lower is better)'
set ylabel 'KiB'
set yrange [0:*]
plot datafile using 4:xtic(1) title 'memset' lc rgb '#888888', \
     '' using 5 title 'ucow refpage' lc rgb '#2a7ab0'
unset multiplot
