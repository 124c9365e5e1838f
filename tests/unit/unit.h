/* unit.h: what every CUnit test program of ucow's shares: a table of named tests, run as one
 * suite, verbose, exit status 0 when all passed. */
#ifndef UCOW_TEST_UNIT_H
#define UCOW_TEST_UNIT_H

#include <stddef.h>

#include <CUnit/Basic.h>

struct unit_test {
	const char *name;
	CU_TestFunc fn;
};

/* Runs @tests as suite @suite_name: 0 all passed, 1 some failed, 2 CUnit could not start. */
static inline int unit_run(const char *suite_name, const struct unit_test *tests, size_t n)
{
	unsigned int failures;
	CU_pSuite suite;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite(suite_name, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		CU_add_test(suite, tests[i].name, tests[i].fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}

#define UNIT_RUN(name, tests) unit_run((name), (tests), sizeof(tests) / sizeof((tests)[0]))

#endif
