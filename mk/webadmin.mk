# The Socket.IO Admin UI (issue 11): npm's @socket.io/admin-ui and @mdi/font
# (web/package.json) are copied by web/build-admin.mjs into pkg/adminui/dist,
# which bin/mpmd embeds and serves at /admin/. Read after web.mk (WEB_DIR and
# its npm ci rule).

ADMINUI_DIST := pkg/adminui/dist

.PHONY: admin-ui
admin-ui: $(WEB_DIR)/node_modules/.package-lock.json ## Copy the Socket.IO Admin UI into pkg/adminui/dist (offline: icons bundled)
	cd $(WEB_DIR) && node build-admin.mjs

BUILD_DEPS += admin-ui
