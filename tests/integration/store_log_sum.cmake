# The store log's checksums with a real smp-server: a byte changed in the
# middle of the log is reported and its record skipped at the next start, as
# a shell script (included by CMakeLists.txt).
add_test(NAME integration.store_log_sum
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_store_log_sum.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>)
set_tests_properties(integration.store_log_sum PROPERTIES TIMEOUT 120)
