# Unit tests of src/client (included by CMakeLists.txt).
sx_unit_test(queue_file test_queue_file.c)
target_link_libraries(test_queue_file PRIVATE sx_smp_client)
# The host a connection goes to (host modes) and its SOCKS route.
sx_unit_test(host_choice test_host_choice.c)
target_link_libraries(test_host_choice PRIVATE sx_smp_client)
# 2-hop routing: the payloads (src/smp/proxy.c) and the client's side.
sx_unit_test(smp_proxy test_smp_proxy.c)
sx_unit_test(smp_proxy_kat test_smp_proxy_kat.c)
target_link_libraries(test_smp_proxy PRIVATE sx_smp_client)
# The pool's choice of a direct or proxied send (src/smp_client/pool_proxy.c).
sx_unit_test(pool_proxy test_pool_proxy.c)
target_link_libraries(test_pool_proxy PRIVATE sx_smp_client)
