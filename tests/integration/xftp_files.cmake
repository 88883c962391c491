# File transfer through two real xftp-server processes with the xftp
# program (shell script; included by CMakeLists.txt).
if(EXISTS ${PROJECT_SOURCE_DIR}/apps/xftp/main.c AND EXISTS ${PROJECT_SOURCE_DIR}/apps/xftp-server/main.c)
  add_test(NAME integration.xftp_files
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_xftp_files.sh $<TARGET_FILE:xftp-server>
                   $<TARGET_FILE:xftp>)
  set_tests_properties(integration.xftp_files PROPERTIES TIMEOUT 300)
endif()
