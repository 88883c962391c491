# Integration test of the smp-server program's operator commands (init,
# start's checks, delete, --version), run as a shell script against the real
# executable (included by CMakeLists.txt).
add_test(NAME integration.cli
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_cli.sh $<TARGET_FILE:smp-server>)
set_tests_properties(integration.cli PROPERTIES TIMEOUT 120)
