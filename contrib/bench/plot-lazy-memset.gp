# contrib/bench/plot-lazy-memset.gp: the lazy-memset benchmark, plain vs UCOW_LAZY_MEMSET=on:
# time per mmap+memset+touch+munmap (gain in the labels), and a large MAP_NORESERVE region
# memset then 1% touched (time and peak RSS, log scale). Called by contrib/bench/run with
# -e "datafile='...'; bigfile='...'; outfile='...'; termspec='...'; plottitle='...'; bigsize='...'".
# datafile: label plain_ms ucow_ms gain; bigfile: label plain_s ucow_s plain_rss_mib ucow_rss_mib
if (!exists("datafile")) datafile = 'lazy-memset.dat'
if (!exists("bigfile")) bigfile = 'lazy-memset-big.dat'
if (!exists("outfile")) outfile = 'lazy-memset.svg'
if (!exists("termspec")) termspec = "svg size 1200,420 dynamic background rgb 'white'"
if (!exists("plottitle")) plottitle = 'lazy memset vs plain'
if (!exists("bigsize")) bigsize = '4G'

set terminal @termspec
set output outfile
set termoption noenhanced
set multiplot layout 1,3 title plottitle
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key below horizontal font ',9'
set xtics font ',9'
set title font ',10'

set title 'mmap 4,096,000 B, memset, touch, munmap'
set xlabel 'bytes touched (gain = 1 - ucow/plain)'
set ylabel 'ms per iteration'
set yrange [0:*]
plot datafile using 2:xtic(sprintf("%s\n%.3f", stringcolumn(1), $4)) \
	title 'plain' lc rgb '#888888', \
     '' using 3 title 'lazy memset' lc rgb '#2a7ab0'

set logscale y
set yrange [*:*]
set xlabel 'pages touched'
set title sprintf('%s NORESERVE memset, 1%% touched: time', bigsize)
set ylabel 's (log)'
plot bigfile using 2:xtic(1) title 'plain' lc rgb '#888888', \
     '' using 3 title 'lazy memset' lc rgb '#2a7ab0'

set title sprintf('%s NORESERVE memset, 1%% touched: peak RSS', bigsize)
set ylabel 'MiB (log)'
plot bigfile using 4:xtic(1) title 'plain' lc rgb '#888888', \
     '' using 5 title 'lazy memset' lc rgb '#2a7ab0'
unset multiplot
