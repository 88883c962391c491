# Integration test of the xftp-server program (init, start serving TLS with
# ALPN xftp/1 and stopping on signals, cert, delete, --version), run as a
# shell script against the real executable (included by CMakeLists.txt).
add_test(NAME integration.xftp_app
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_xftp_app.sh $<TARGET_FILE:xftp-server>)
set_tests_properties(integration.xftp_app PROPERTIES TIMEOUT 120)
