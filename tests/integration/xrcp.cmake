# Integration test of XRCP (src/xrcp): controller and host over real TLS on
# loopback (included by CMakeLists.txt).
add_executable(itest_xrcp test_xrcp.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_xrcp PRIVATE sx_xrcp PkgConfig::CMOCKA Threads::Threads)
target_compile_definitions(itest_xrcp PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(itest_xrcp PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
add_test(NAME integration.xrcp COMMAND itest_xrcp)
set_tests_properties(integration.xrcp PROPERTIES TIMEOUT 120)
# The `xrcp` program: controller and host as separate processes.
add_test(NAME integration.xrcp_cli
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_xrcp_cli.sh $<TARGET_FILE:xrcp>)
set_tests_properties(integration.xrcp_cli PROPERTIES TIMEOUT 300)
# Attachments of 120 MB streamed each way between the two programs.
set(sx_xrcp_big_flag "")
if(SX_SANITIZE OR SX_TSAN)
  set(sx_xrcp_big_flag "sanitized")
endif()
add_test(NAME integration.xrcp_big
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_xrcp_big.sh $<TARGET_FILE:xrcp> ${sx_xrcp_big_flag})
set_tests_properties(integration.xrcp_big PROPERTIES TIMEOUT 600)
