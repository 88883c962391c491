# Unit tests of the router kit's modules (included by CMakeLists.txt).
sx_unit_test(kit_stats test_kit_stats.c)
target_link_libraries(test_kit_stats PRIVATE sx_kit)
