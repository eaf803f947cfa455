package simulator

// This file is compiled into govmomi's simulator package (Debian's
// golang-github-vmware-govmomi-dev 0.24.2) with `go build -overlay`; it adds a file and
// changes none. It exists because a HostSystem cannot be extended the way
// example_extend_test.go wraps a VirtualMachine: the simulator asserts
// `Map.Get(ref).(*HostSystem)` when a VM powers on or off or is reconfigured
// (virtual_machine.go event()), so a wrapped host breaks every VM on it.

import (
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// HostRebooter runs RebootHost_Task for a host. The program that embeds the simulator sets it;
// while it is nil the method answers NotSupported, as a host without the capability does.
var HostRebooter func(ctx *Context, host *HostSystem, req *types.RebootHost_Task) soap.HasFault

// RebootHostTask is dispatched for RebootHost_Task, which vcsim 0.24.2 does not implement.
func (h *HostSystem) RebootHostTask(ctx *Context, req *types.RebootHost_Task) soap.HasFault {
	if HostRebooter == nil {
		return &methods.RebootHost_TaskBody{Fault_: Fault("", &types.NotSupported{})}
	}
	return HostRebooter(ctx, h, req)
}
