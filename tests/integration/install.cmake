# The installed library and headers, and examples/ built against them from
# outside the tree and run against real routers (included by CMakeLists.txt).
set(sx_install_cflags "")
if(SX_SANITIZE)
  set(sx_install_cflags "-fsanitize=address,undefined -fno-sanitize-recover=all")
endif()
add_test(NAME integration.install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}
                 $<TARGET_FILE:smp-server> $<TARGET_FILE:xftp-server> "${sx_install_cflags}")
set_tests_properties(integration.install PROPERTIES TIMEOUT 300 ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
