# ntf-server's init, cert and delete (shell script; included by CMakeLists.txt).
if(EXISTS ${PROJECT_SOURCE_DIR}/apps/ntf-server/main.c)
  add_test(NAME integration.ntf_cli COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_ntf_cli.sh
                                            $<TARGET_FILE:ntf-server>)
  set_tests_properties(integration.ntf_cli PROPERTIES TIMEOUT 120)
endif()
