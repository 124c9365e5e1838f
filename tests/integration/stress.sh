# stress.sh: ten seconds of the soak (tests/stress/run.sh; `make stress` runs it for as long
# as STRESS_SECONDS says): any wrong byte or hang fails.
. "$UCOWTEST_SRCDIR/tests/integration/lib.sh"
require_lib
require_uffd
STRESS_SECONDS=${UCOWTEST_STRESS_SECONDS:-10} STRESS_TIMEOUT=10 \
	/bin/sh "$UCOWTEST_SRCDIR/tests/stress/run.sh" --builddir "$UCOWTEST_BUILDDIR"
