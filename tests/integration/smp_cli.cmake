# Integration test of the `smp` command-line client against a real
# smp-server on loopback, as a shell script (included by CMakeLists.txt).
add_test(NAME integration.smp_cli
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_cli.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>)
set_tests_properties(integration.smp_cli PROPERTIES TIMEOUT 300)
add_test(NAME integration.smp_proxy_cli
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_proxy_cli.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>)
set_tests_properties(integration.smp_proxy_cli PROPERTIES TIMEOUT 300)
add_test(NAME integration.smp_web
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_web.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>)
set_tests_properties(integration.smp_web PROPERTIES TIMEOUT 300)
add_test(NAME integration.smp_https_check
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_https_check.sh $<TARGET_FILE:smp-server>)
set_tests_properties(integration.smp_https_check PROPERTIES TIMEOUT 300)
add_test(NAME integration.smp_journal
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_journal.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>)
set_tests_properties(integration.smp_journal PROPERTIES TIMEOUT 300)
add_test(NAME integration.smp_journal_store
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_journal_store.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>)
set_tests_properties(integration.smp_journal_store PROPERTIES TIMEOUT 300)
# The PostgreSQL queue store on a private server of the test's own
# (pg_start.sh), with each message store the reference pairs it with.
foreach(msgs journal database)
  add_test(NAME integration.smp_db_store_${msgs}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_db_store.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp> ${msgs})
  set_tests_properties(integration.smp_db_store_${msgs} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
# The router's round (NEW, KEY, SEND, SUB, ACK, DEL; stopped by SIGINT,
# SIGTERM and kill -9 and started again) on every storage pair the reference
# allows; the database pairs on a private PostgreSQL server each.
foreach(pair memory journal db_journal db_database)
  add_test(NAME integration.smp_store_pair_${pair}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_store_pairs.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp> ${pair})
  set_tests_properties(integration.smp_store_pair_${pair} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
# Rows written by hand in the reference's encoding (tests/data/smp_db),
# loaded into a schema our router migrated, then used.
add_test(NAME integration.smp_db_fixture
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_db_fixture.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>
                 ${PROJECT_SOURCE_DIR}/tests/data/smp_db/reference_rows.sql)
set_tests_properties(integration.smp_db_fixture PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
add_test(NAME integration.smp_db_migrate
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_db_migrate.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>)
set_tests_properties(integration.smp_db_migrate PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
add_test(NAME integration.smp_socks
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_socks.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>)
set_tests_properties(integration.smp_socks PROPERTIES TIMEOUT 300)
