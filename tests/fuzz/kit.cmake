# Fuzz targets of the router kit (included by CMakeLists.txt).
# Seeds in corpus/kit_stats are statistics backups written by hand: the XFTP
# router's file-server-stats.log as the reference's releases write it, the
# made-up fields of fuzz_kit_stats.c, and broken ones.
sx_fuzz_target(kit_stats)
target_link_libraries(fuzz_kit_stats PRIVATE sx_kit)
# HTTP request heads of the routers' static web server (kit/web.h); seeds in
# corpus/http_head written by hand.
sx_fuzz_target(http_head)
target_link_libraries(fuzz_http_head PRIVATE sx_kit)
