"""The host agent's lower layers, what the agent protocol will call.

    spec         what the management server asks for (VmSpec, NicRules, ...), frozen data
    domxml       VmSpec -> libvirt domain/device XML (pure)
    storagexml   pool and volume XML (pure)
    hostinfo     HostCapacity from libvirt's host reports (pure)
    images       qcow2/raw format and size from an image header
    configdrive  user data on a `config-2` ISO (genisoimage)
    driver       LibvirtDriver: the only module that calls libvirt
    bridges      names of bridges and links, traffic labels (pure)
    network      bridges, VLAN and VXLAN uplinks over netlink (pyroute2)
    netrefs      per-network reference counts: bridge up for the first VM, down after the last
    nftrules     security groups as nftables JSON commands (pure)
    firewall     applies nftrules with the nft CLI
    proc         running host tools, optionally inside a network namespace
    namespaces   sockets opened inside a named network namespace, without forking
    errors       AgentError(message, retryable) and its subclasses

The agent itself (`cloudplane agent`, docs/hostagent.md), on top of them:

    config       AgentConfig from agent.properties or TOML
    vmargs       StartCommand arguments -> StartRequest -> VmSpec (pure)
    commands     HostCommands: the agent command set over the driver
    connection   the WebSocket loop: hello, startup, pings, answers, back-off, TLS
    daemon       wiring, libvirt reconnects, signals, `--check`

Importing this package has no side effects and does not import libvirt.
"""
