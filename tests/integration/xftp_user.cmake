# What a new user of the xftp program meets, with real xftp-server and
# smp-server processes and a slow link between them (shell script; included
# by CMakeLists.txt).
add_executable(sx_slow_proxy slow_proxy.c)
target_link_libraries(sx_slow_proxy PRIVATE Threads::Threads)
if(EXISTS ${PROJECT_SOURCE_DIR}/apps/xftp/main.c AND EXISTS ${PROJECT_SOURCE_DIR}/apps/xftp-server/main.c)
  add_test(NAME integration.xftp_user
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_xftp_user.sh $<TARGET_FILE:xftp-server>
                   $<TARGET_FILE:xftp> $<TARGET_FILE:smp-server> $<TARGET_FILE:sx_slow_proxy>)
  set_tests_properties(integration.xftp_user PROPERTIES TIMEOUT 300)
endif()
