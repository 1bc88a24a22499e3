/*
 * unit.h: how each CUnit program runs its table of tests. One suite,
 * verbose output, and an exit status that fails on a failed assert
 * (CU_basic_run_tests() itself succeeds even then).
 */
#ifndef WX_UNIT_H
#define WX_UNIT_H

#include <stddef.h>
#include <CUnit/Basic.h>

struct unit_test {
	const char	*name;
	CU_TestFunc	 fn;
};

static int
unit_run(const char *suite_name, const struct unit_test *tests, size_t n)
{
	CU_pSuite	 suite;
	unsigned	 failures, failed;
	size_t		 i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if ((suite = CU_add_suite(suite_name, NULL, NULL)) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failures = CU_get_number_of_failures();
	failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures != 0 || failed != 0;
fail:
	CU_cleanup_registry();
	return 1;
}

#endif
