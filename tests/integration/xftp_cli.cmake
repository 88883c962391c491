# The XFTP client library (send / recv / del as the xftp program runs them)
# against two XFTP routers started in process on loopback (included by
# CMakeLists.txt).
add_executable(itest_xftp_cli test_xftp_cli.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_xftp_cli PRIVATE sx_xftp_client sx_xftp_router PkgConfig::CMOCKA)
target_include_directories(itest_xftp_cli PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_xftp_cli PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.xftp_cli COMMAND itest_xftp_cli)
set_tests_properties(integration.xftp_cli PROPERTIES TIMEOUT 300)
# The xftp program against an xftp-server process (shell script).
if(EXISTS ${PROJECT_SOURCE_DIR}/apps/xftp/main.c AND EXISTS ${PROJECT_SOURCE_DIR}/apps/xftp-server/main.c)
  add_test(NAME integration.xftp_cli_app
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_xftp_cli.sh $<TARGET_FILE:xftp-server>
                   $<TARGET_FILE:xftp>)
  set_tests_properties(integration.xftp_cli_app PROPERTIES TIMEOUT 120)
endif()
