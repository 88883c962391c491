# The modes of the routers' files (secrets 0600, older wider modes
# tightened at start), with real smp-server and xftp-server processes, as a
# shell script (included by CMakeLists.txt).
add_test(NAME integration.file_modes
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_file_modes.sh $<TARGET_FILE:smp-server> $<TARGET_FILE:smp>
                 $<TARGET_FILE:xftp-server>)
set_tests_properties(integration.file_modes PROPERTIES TIMEOUT 120)
