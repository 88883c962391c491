# The router kit (src/kit): what every router shares.
sx_unit_test(kit_ctlport test_kit_ctlport.c)
target_link_libraries(test_kit_ctlport PRIVATE sx_kit)
sx_unit_test(kit_workers test_kit_workers.c)
target_link_libraries(test_kit_workers PRIVATE sx_kit)
