# Service certificates on an in-process router: ServiceId assignment and
# persistence, NSUB association and NSUBS, refusals (included by
# CMakeLists.txt).
add_executable(itest_services test_services.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_services PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_services PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_services PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.services COMMAND itest_services)
set_tests_properties(integration.services PROPERTIES TIMEOUT 300)
