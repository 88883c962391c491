# Fuzz targets of src/client (included by CMakeLists.txt).
sx_fuzz_target(queue_file)
target_link_libraries(fuzz_queue_file PRIVATE sx_smp_client)
# 2-hop routing payloads and the client's PKEY check; seeds by gen_proxy_seeds.py.
sx_fuzz_target(smp_proxy)
target_link_libraries(fuzz_smp_proxy PRIVATE sx_smp_client)
