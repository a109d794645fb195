#!/bin/sh
# The packaged /etc/camvault/camvault.toml: docs/camvault.example.toml (every key, its default
# and what it does) with the data under /var/lib/camvault and option B of docs/samba.md
# (Debian's smbd + camvault's include, camvault unprivileged). The build fails if a line
# it replaces disappears from the example.
set -eu
EX="$1"
for line in 'inbox = "inbox"' 'vault = "vault"' 'catalog = "catalog.sqlite"' 'root = "store"' \
    'cache_dir = "webcache"' 'dir = "restores"' 'state_dir = "samba"' 'password_file = ""' 'manage = false'; do
    grep -qx "$line" "$EX" || { echo "packaged-config.sh: \`$line\` not found in $EX: update debian/packaged-config.sh" >&2; exit 1; }
done
printf '%s\n' \
    '# camvault configuration, installed by the Debian package (a conffile: upgrades keep your' \
    '# changes). `sudo camvault setup` fills in cameras, store and share; edit the rest here.' \
    '# The service reads it as the `camvault` user: keep it mode 0600, owner camvault.' ''
sed -e 's|^inbox = "inbox"$|inbox = "/var/lib/camvault/inbox"|' \
    -e 's|^vault = "vault"$|vault = "/var/lib/camvault/vault"|' \
    -e 's|^catalog = "catalog.sqlite"$|catalog = "/var/lib/camvault/catalog.sqlite"|' \
    -e 's|^root = "store"$|root = "/var/lib/camvault/store"|' \
    -e 's|^cache_dir = "webcache"$|cache_dir = "/var/lib/camvault/cache"|' \
    -e 's|^dir = "restores"$|dir = "/var/lib/camvault/restores"|' \
    -e 's|^state_dir = "samba"$|state_dir = "/var/lib/camvault/samba"|' \
    -e 's|^password_file = ""$|password_file = "/etc/camvault/samba-password"|' \
    "$EX"
