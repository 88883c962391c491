# DEL racing KEY, SKEY, NKEY, OFF, NDEL, LSET, LDEL and DEL on other
# connections (one thread and one router worker each), then a restart from
# the store log compared with what the clients were told (included by
# CMakeLists.txt).
add_executable(itest_del_race test_del_race.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_del_race PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_del_race PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_del_race PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.del_race COMMAND itest_del_race)
set_tests_properties(integration.del_race PROPERTIES TIMEOUT 300)
