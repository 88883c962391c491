# Service certificates on an in-process router: ServiceId assignment and
# persistence, NSUB association and NSUBS, refusals (included by
# CMakeLists.txt).
add_executable(itest_services test_services.c services_env.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_services PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_services PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_services PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.services COMMAND itest_services)
set_tests_properties(integration.services PROPERTIES TIMEOUT 300)

# One connection per service (PROTOCOL-NOTES D27): a second connection's SUB,
# NSUB or NEW takes the whole service, a repeated SUBS / NSUBS answers the
# session's counts, a missing queue in the wrong role is AUTH.
add_executable(itest_services_move test_services_move.c services_env.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_services_move PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_services_move PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_services_move PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.services_move COMMAND itest_services_move)
set_tests_properties(integration.services_move PROPERTIES TIMEOUT 300)
