/* test-lazy-memset.c: CUnit tests of registry_set_data() (src/region.c), the one-step value
 * change lazy memset relies on when a memset lands on ranges it deferred before. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "unit.h"

#include "policy.h"
#include "region.h"
#include "sys.h"

#define PAGE UCOW_PAGE_SIZE
#define BASE ((uintptr_t)0x7f0000000000)	/* never touched: the registry only records it */
#define ADDR(p) (BASE + (uintptr_t)(p) * PAGE)

static const struct ucow_policy lazy = { .name = "lazy" }, other = { .name = "other" };
static struct ucow_registry reg;

static void add(size_t from, size_t to, const struct ucow_policy *policy, uint64_t data)
{
	struct ucow_region r = {
		.start = ADDR(from), .end = ADDR(to), .policy = policy,
		.offset = ADDR(from), .data = data, .prot = PROT_READ | PROT_WRITE,
	};

	CU_ASSERT_EQUAL_FATAL(registry_insert(&reg, &r), 0);
}

/* The data of page @p, or -1 if unmanaged. */
static long long data_at(size_t p)
{
	struct ucow_region r;

	return registry_lookup(&reg, ADDR(p), &r, false) ? (long long)r.data : -1;
}

static void clear(void)
{
	registry_remove(&reg, 0, UINTPTR_MAX);
	CU_ASSERT_EQUAL(registry_count(&reg), 0);
}

static void test_split(void)
{
	add(10, 20, &lazy, 1);
	CU_ASSERT_EQUAL(registry_set_data(&reg, ADDR(12), ADDR(15), &lazy, 2), 3 * PAGE);
	CU_ASSERT_EQUAL(data_at(11), 1);
	CU_ASSERT_EQUAL(data_at(12), 2);
	CU_ASSERT_EQUAL(data_at(14), 2);
	CU_ASSERT_EQUAL(data_at(15), 1);
	CU_ASSERT_EQUAL(registry_count(&reg), 3);
	/* The same value again: the three pieces are one range once more. */
	CU_ASSERT_EQUAL(registry_set_data(&reg, ADDR(12), ADDR(15), &lazy, 1), 3 * PAGE);
	CU_ASSERT_EQUAL(registry_count(&reg), 1);
	clear();
}

static void test_other_policies_untouched(void)
{
	add(0, 4, &lazy, 1);
	add(4, 8, &other, 7);
	add(8, 12, &lazy, 1);
	CU_ASSERT_EQUAL(registry_set_data(&reg, ADDR(2), ADDR(10), &lazy, 3), 4 * PAGE);
	CU_ASSERT_EQUAL(data_at(1), 1);
	CU_ASSERT_EQUAL(data_at(2), 3);
	CU_ASSERT_EQUAL(data_at(5), 7);
	CU_ASSERT_EQUAL(data_at(9), 3);
	CU_ASSERT_EQUAL(data_at(10), 1);
	clear();
}

static void test_gaps_stay_gaps(void)
{
	add(0, 2, &lazy, 1);
	add(6, 8, &lazy, 1);
	CU_ASSERT_EQUAL(registry_set_data(&reg, ADDR(0), ADDR(8), &lazy, 5), 4 * PAGE);
	CU_ASSERT_EQUAL(data_at(1), 5);
	CU_ASSERT_EQUAL(data_at(3), -1);
	CU_ASSERT_EQUAL(data_at(6), 5);
	CU_ASSERT_EQUAL(registry_set_data(&reg, ADDR(20), ADDR(30), &lazy, 5), 0);
	clear();
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "set_data splits and merges", test_split },
		{ "set_data leaves other policies", test_other_policies_untouched },
		{ "set_data leaves gaps", test_gaps_stay_gaps },
	};

	registry_init(&reg);

	return UNIT_RUN("lazy-memset", tests);
}
