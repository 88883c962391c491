# Unit tests of what the router programs share (apps/common; included by
# CMakeLists.txt).
sx_unit_test(router_cli test_router_cli.c)
target_link_libraries(test_router_cli PRIVATE sx_router_cli)
