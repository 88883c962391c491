# Router modules.
sx_unit_test(store test_store.c)
target_link_libraries(test_store PRIVATE sx_router)
