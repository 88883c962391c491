# ntf-server's init, cert and delete (shell script), and the NTF router's
# network server against a client built from the codecs (included by
# CMakeLists.txt).
if(EXISTS ${PROJECT_SOURCE_DIR}/apps/ntf-server/main.c)
  add_test(NAME integration.ntf_cli COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_ntf_cli.sh
                                            $<TARGET_FILE:ntf-server>)
  set_tests_properties(integration.ntf_cli PROPERTIES TIMEOUT 120)
endif()
add_executable(itest_ntf_server test_ntf_server.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_ntf_server PRIVATE sx_ntf_router PkgConfig::CMOCKA)
target_include_directories(itest_ntf_server PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_ntf_server PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.ntf_server COMMAND itest_ntf_server)
set_tests_properties(integration.ntf_server PROPERTIES TIMEOUT 120)
# Pushes end to end: the NTF router in process, the APNS stand-in as a
# process (tests/apns_standin), the NTF client library.
add_executable(itest_ntf_push test_ntf_push.c ntf_env.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c
                              ${PROJECT_SOURCE_DIR}/tests/unit/prom_check.c)
target_link_libraries(itest_ntf_push PRIVATE sx_ntf_router sx_ntf_client PkgConfig::CMOCKA)
target_include_directories(itest_ntf_push PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_ntf_push PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.ntf_push COMMAND itest_ntf_push $<TARGET_FILE:apns-standin>)
set_tests_properties(integration.ntf_push PROPERTIES TIMEOUT 300)
# Subscriptions end to end: the smp-server, ntf-server and APNS stand-in
# programs as processes, our SMP and NTF clients.
add_executable(itest_ntf_subs test_ntf_subs.c ntf_env.c pool_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_ntf_subs PRIVATE sx_ntf_router sx_ntf_client sx_smp_client PkgConfig::CMOCKA
                      Threads::Threads)
target_include_directories(itest_ntf_subs PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_ntf_subs PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_ntf_subs smp-server apns-standin ntf-server)
add_test(NAME integration.ntf_subs COMMAND itest_ntf_subs $<TARGET_FILE:apns-standin> $<TARGET_FILE:ntf-server>)
set_tests_properties(integration.ntf_subs PROPERTIES TIMEOUT 300)
# The NTF router as a notifier service (PROTOCOL-NOTES G18): smp-server,
# ntf-server and the APNS stand-in as processes; the SMP router killed and
# started again, one NSUBS on its counters.
add_executable(itest_ntf_service test_ntf_service.c ntf_env.c pool_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_ntf_service PRIVATE sx_ntf_router sx_ntf_client sx_smp_client PkgConfig::CMOCKA
                      Threads::Threads)
target_include_directories(itest_ntf_service PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_ntf_service PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_ntf_service smp-server apns-standin ntf-server)
add_test(NAME integration.ntf_service COMMAND itest_ntf_service $<TARGET_FILE:apns-standin> $<TARGET_FILE:ntf-server>)
set_tests_properties(integration.ntf_service PROPERTIES TIMEOUT 300)
# The PostgreSQL store: the router in process on a private PostgreSQL
# server (test_ntf_db.sh starts it), restarted on the same database.
add_executable(itest_ntf_db test_ntf_db.c ntf_env.c pool_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_ntf_db PRIVATE sx_ntf_router sx_ntf_client sx_smp_client PkgConfig::CMOCKA
                      Threads::Threads)
target_include_directories(itest_ntf_db PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_ntf_db PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_ntf_db smp-server apns-standin ntf-server)
add_test(NAME integration.ntf_db COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_ntf_db.sh $<TARGET_FILE:itest_ntf_db>
                                         $<TARGET_FILE:apns-standin> $<TARGET_FILE:ntf-server>)
set_tests_properties(integration.ntf_db PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
# Concurrent APNS streams: the APNS client's batches and the push thread's
# per-token order against the stand-in process.
add_executable(itest_ntf_apns_streams test_ntf_apns_streams.c ntf_env.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_ntf_apns_streams PRIVATE sx_ntf_router sx_ntf_client PkgConfig::CMOCKA)
target_include_directories(itest_ntf_apns_streams PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_ntf_apns_streams PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.ntf_apns_streams COMMAND itest_ntf_apns_streams $<TARGET_FILE:apns-standin>)
set_tests_properties(integration.ntf_apns_streams PROPERTIES TIMEOUT 300)
# The per-router counters of own SMP routers ([SUBSCRIBER]
# own_server_domains): smp-server, ntf-server and the APNS stand-in as
# processes; the metrics file's _own series and the stats file's lines.
add_executable(itest_ntf_own test_ntf_own.c ntf_env.c pool_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c
                             ${PROJECT_SOURCE_DIR}/tests/unit/prom_check.c)
target_link_libraries(itest_ntf_own PRIVATE sx_ntf_router sx_ntf_client sx_smp_client PkgConfig::CMOCKA
                      Threads::Threads)
target_include_directories(itest_ntf_own PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_ntf_own PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_ntf_own smp-server apns-standin ntf-server)
add_test(NAME integration.ntf_own COMMAND itest_ntf_own $<TARGET_FILE:apns-standin> $<TARGET_FILE:ntf-server>)
set_tests_properties(integration.ntf_own PROPERTIES TIMEOUT 300)
