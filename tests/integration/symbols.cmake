# The routers link only their own router library (docs/ARCHITECTURE.md): the
# xftp-server binary carries no symbol defined by sx_smp_router (the SMP router)
# and smp-server none defined by sx_xftp_router; both share sx_kit. Checked
# with nm on the built programs (included by CMakeLists.txt).
add_test(NAME integration.router_symbols
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_router_symbols.sh ${CMAKE_NM}
                 $<TARGET_FILE:xftp-server> $<TARGET_FILE:sx_smp_router>
                 $<TARGET_FILE:smp-server> $<TARGET_FILE:sx_xftp_router>)
set_tests_properties(integration.router_symbols PROPERTIES TIMEOUT 60)
