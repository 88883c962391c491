# Unit tests of the router kit's modules (src/kit; included by CMakeLists.txt).
sx_unit_test(kit_ctlport test_kit_ctlport.c)
target_link_libraries(test_kit_ctlport PRIVATE sx_kit)
sx_unit_test(kit_workers test_kit_workers.c)
target_link_libraries(test_kit_workers PRIVATE sx_kit)
sx_unit_test(kit_stats test_kit_stats.c)
target_link_libraries(test_kit_stats PRIVATE sx_kit)
sx_unit_test(kit_say test_kit_say.c)
target_link_libraries(test_kit_say PRIVATE sx_kit)
