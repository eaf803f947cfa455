"""Reboots $GPUC_VCSIM_HOST in the simulator at $GPUC_VCSIM_URL: what vCenter sees when a runbook
phase reboots its ESXi host. test_ansible.py puts it behind the stub `reboot` the scripts call."""

import os
import ssl
import sys
from urllib.parse import urlparse

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

url = urlparse(os.environ["GPUC_VCSIM_URL"])
si = SmartConnect(host=url.hostname, port=url.port, user=url.username, pwd=url.password,
                  sslContext=ssl._create_unverified_context())
try:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    host = next(h for h in view.view if h.name == os.environ["GPUC_VCSIM_HOST"])
    host.RebootHost_Task(force=False)
    print(f"rebooting {host.name} in the simulator", file=sys.stderr)
finally:
    Disconnect(si)
