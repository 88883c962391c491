# Router modules.
sx_unit_test(store test_store.c)
target_link_libraries(test_store PRIVATE sx_router)
sx_unit_test(config test_config.c)
target_link_libraries(test_config PRIVATE sx_router)
sx_unit_test(storelog test_storelog.c)
target_link_libraries(test_storelog PRIVATE sx_router)
