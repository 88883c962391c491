# What smp-server and xftp-server say when `start` cannot serve (a port in
# use, a port below 1024 without the capability), as real processes
# (included by CMakeLists.txt).
add_test(NAME integration.router_start
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_router_start.sh $<TARGET_FILE:smp-server>
                 $<TARGET_FILE:xftp-server>)
set_tests_properties(integration.router_start PROPERTIES TIMEOUT 120)
