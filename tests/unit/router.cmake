# Router modules.
sx_unit_test(store test_store.c)
target_link_libraries(test_store PRIVATE sx_smp_router)
sx_unit_test(config test_config.c)
target_link_libraries(test_config PRIVATE sx_smp_router)
sx_unit_test(storelog test_storelog.c storelog_util.c)
target_link_libraries(test_storelog PRIVATE sx_smp_router)
sx_unit_test(msglog test_msglog.c storelog_util.c)
target_link_libraries(test_msglog PRIVATE sx_smp_router)
