# Integration tests of src/transport: our TLS server and client over loopback
# (included by CMakeLists.txt). Links the unit-test helpers for fixtures.
add_executable(itest_tls test_tls.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_tls PRIVATE sx_transport PkgConfig::CMOCKA Threads::Threads)
target_compile_definitions(itest_tls PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(itest_tls PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
add_test(NAME integration.tls COMMAND itest_tls)
set_tests_properties(integration.tls PROPERTIES TIMEOUT 120)

add_executable(itest_smp_handshake test_smp_handshake.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_smp_handshake PRIVATE sx_transport PkgConfig::CMOCKA Threads::Threads)
target_compile_definitions(itest_smp_handshake PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(itest_smp_handshake PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
add_test(NAME integration.smp_handshake COMMAND itest_smp_handshake)
set_tests_properties(integration.smp_handshake PROPERTIES TIMEOUT 120)
