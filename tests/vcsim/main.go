// Command gpuc-vcsim is a vCenter simulator for gpuc's rollout tests: govmomi's vcsim (VPX
// model) with an inventory read from a seed file, extended with what vcsim 0.24.2 lacks for GPU
// hosts: RebootHost_Task, a HostGraphicsManager and a HostPciPassthruSystem per host, NVIDIA PCI
// devices and the vGPU types each host offers. README.md beside this file describes the seed,
// the flags and how to build it offline against Debian's golang-github-vmware-govmomi-dev.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The API release the simulator reports; 7.0 U3 is the first that every module used by gpuc's
// playbook supports, and pyVmomi negotiates the vim25 namespace from it.
const (
	apiVersion     = "7.0.3.0"
	productVersion = "7.0.3"
)

const (
	nvidiaVendorID = 0x10de
	// PCI class 0x0302 is "3D controller", the class of NVIDIA's data-centre GPUs.
	displayClass3D = 0x0302
	datastoreName  = "LocalDS_0"
)

// Seed is the inventory the simulator starts with.
type Seed struct {
	Datacenter string     `json:"datacenter"`
	Hosts      []SeedHost `json:"hosts"`
	VMs        []SeedVM   `json:"vms"`
}

// SeedHost is one ESXi host; Cluster empty means a standalone host.
type SeedHost struct {
	Name    string    `json:"name"`
	Cluster string    `json:"cluster"`
	GPUs    []SeedGPU `json:"gpus"`
	// Fail makes one step fail on this host: "reboot" (RebootHost_Task ends in error) or
	// "maintenance_mode" (EnterMaintenanceMode_Task is disabled), to test that a rollout stops.
	Fail string `json:"fail"`
}

// SeedGPU is one NVIDIA PCI function and the vGPU types its host offers for it.
type SeedGPU struct {
	PCI      string   `json:"pci"`
	DeviceID string   `json:"device_id"`
	Name     string   `json:"name"`
	MemoryMB int64    `json:"memory_mb"`
	Profiles []string `json:"profiles"`
}

// SeedVM is one virtual machine, created powered on unless PoweredOff.
type SeedVM struct {
	Name       string `json:"name"`
	Host       string `json:"host"`
	MemoryMB   int64  `json:"memory_mb"`
	CPUs       int32  `json:"cpus"`
	PoweredOff bool   `json:"powered_off"`
}

const (
	failReboot          = "reboot"
	failMaintenanceMode = "maintenance_mode"
)

var pciAddress = regexp.MustCompile(`^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$`)

func readSeed(path string) (*Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var s Seed
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if s.Datacenter == "" {
		s.Datacenter = "DC0"
	}
	return &s, s.validate()
}

func (s *Seed) validate() error {
	hosts := map[string]bool{}
	for _, h := range s.Hosts {
		if h.Name == "" || hosts[h.Name] {
			return fmt.Errorf("host name %q is empty or repeated", h.Name)
		}
		hosts[h.Name] = true
		if h.Fail != "" && h.Fail != failReboot && h.Fail != failMaintenanceMode {
			return fmt.Errorf("host %s: fail must be %q or %q", h.Name, failReboot, failMaintenanceMode)
		}
		pcis := map[string]bool{}
		for _, g := range h.GPUs {
			if !pciAddress.MatchString(g.PCI) || pcis[g.PCI] {
				return fmt.Errorf("host %s: pci %q is not a lower-case 0000:3b:00.0 address or is repeated", h.Name, g.PCI)
			}
			pcis[g.PCI] = true
			if _, err := g.deviceID(); err != nil {
				return fmt.Errorf("host %s gpu %s: %v", h.Name, g.PCI, err)
			}
		}
	}
	vms := map[string]bool{}
	for _, vm := range s.VMs {
		if vm.Name == "" || vms[vm.Name] {
			return fmt.Errorf("vm name %q is empty or repeated", vm.Name)
		}
		vms[vm.Name] = true
		if !hosts[vm.Host] {
			return fmt.Errorf("vm %s: host %q is not in hosts", vm.Name, vm.Host)
		}
		if vm.MemoryMB <= 0 {
			return fmt.Errorf("vm %s: memory_mb must be positive", vm.Name)
		}
	}
	return nil
}

// deviceID parses the hexadecimal PCI device id ("0x2235" or "2235").
func (g SeedGPU) deviceID() (uint16, error) {
	id, err := strconv.ParseUint(trimHex(g.DeviceID), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("device_id %q is not a 16-bit hexadecimal number", g.DeviceID)
	}
	return uint16(id), nil
}

func trimHex(s string) string {
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		return s[2:]
	}
	return s
}

func (g SeedGPU) displayName() string {
	if g.Name != "" {
		return g.Name
	}
	return fmt.Sprintf("NVIDIA device %s", g.DeviceID)
}

// gpuHost is the GPU state the simulator adds to one host: the configuration the API changes
// and the state that only a reboot makes active.
type gpuHost struct {
	host     *simulator.HostSystem
	seed     SeedHost
	graphics *graphicsManager
	passthru *pciPassthruSystem
}

// graphicsManager is the per-host HostGraphicsManager that vcsim lacks.
type graphicsManager struct {
	mo.HostGraphicsManager
	gpu *gpuHost
}

// pciPassthruSystem is the per-host HostPciPassthruSystem that vcsim lacks.
type pciPassthruSystem struct {
	mo.HostPciPassthruSystem
	gpu *gpuHost
}

func fault(err types.BaseMethodFault) *soap.Fault { return simulator.Fault("", err) }

func invalidArgument(property string) *soap.Fault {
	return fault(&types.InvalidArgument{InvalidProperty: property})
}

// The values the API allows (vim25 enums HostGraphicsConfigGraphicsType, used for the host
// default and per device, and HostGraphicsConfigSharedPassthruAssignmentPolicy).
var (
	graphicsTypes = map[string]bool{
		string(types.HostGraphicsConfigGraphicsTypeShared):       true,
		string(types.HostGraphicsConfigGraphicsTypeSharedDirect): true,
	}
	assignmentPolicies = map[string]bool{
		string(types.HostGraphicsConfigSharedPassthruAssignmentPolicyPerformance):   true,
		string(types.HostGraphicsConfigSharedPassthruAssignmentPolicyConsolidation): true,
	}
)

// UpdateGraphicsConfig stores the host default graphics type, the shared passthrough assignment
// policy and the per-device types; like ESXi, the devices take them at the next boot.
func (m *graphicsManager) UpdateGraphicsConfig(req *types.UpdateGraphicsConfig) soap.HasFault {
	body := &methods.UpdateGraphicsConfigBody{}
	cfg := req.Config
	switch {
	case !graphicsTypes[cfg.HostDefaultGraphicsType]:
		body.Fault_ = invalidArgument("config.hostDefaultGraphicsType")
	case !assignmentPolicies[cfg.SharedPassthruAssignmentPolicy]:
		body.Fault_ = invalidArgument("config.sharedPassthruAssignmentPolicy")
	}
	for _, d := range cfg.DeviceType {
		if !m.gpu.hasGPU(d.DeviceId) || !graphicsTypes[d.GraphicsType] {
			body.Fault_ = invalidArgument("config.deviceType")
		}
	}
	if body.Fault_ != nil {
		return body
	}
	simulator.Map.WithLock(m.gpu.host, func() {
		m.GraphicsConfig = &cfg
		m.gpu.host.Config.GraphicsConfig = &cfg
	})
	body.Res = &types.UpdateGraphicsConfigResponse{}
	return body
}

// RefreshGraphicsManager re-reads the devices' graphics state, which here is the active state.
func (m *graphicsManager) RefreshGraphicsManager(*types.RefreshGraphicsManager) soap.HasFault {
	simulator.Map.WithLock(m.gpu.host, func() { m.gpu.applyGraphicsInfo() })
	return &methods.RefreshGraphicsManagerBody{Res: &types.RefreshGraphicsManagerResponse{}}
}

// UpdatePassthruConfig enables or disables passthrough on passthrough-capable devices; the
// change becomes active (passthruActive) at the next boot.
func (s *pciPassthruSystem) UpdatePassthruConfig(req *types.UpdatePassthruConfig) soap.HasFault {
	body := &methods.UpdatePassthruConfigBody{}
	simulator.Map.WithLock(s.gpu.host, func() {
		for _, c := range req.Config {
			want := c.GetHostPciPassthruConfig()
			info := s.gpu.passthruInfo(want.Id)
			if info == nil || !info.PassthruCapable {
				body.Fault_ = invalidArgument("config.id")
				return
			}
		}
		for _, c := range req.Config {
			want := c.GetHostPciPassthruConfig()
			s.gpu.passthruInfo(want.Id).PassthruEnabled = want.PassthruEnabled
		}
	})
	if body.Fault_ == nil {
		body.Res = &types.UpdatePassthruConfigResponse{}
	}
	return body
}

// Refresh re-reads the passthrough state; the simulator's state is always current.
func (s *pciPassthruSystem) Refresh(*types.Refresh) soap.HasFault {
	return &methods.RefreshBody{Res: &types.RefreshResponse{}}
}

func (g *gpuHost) hasGPU(pci string) bool {
	for _, gpu := range g.seed.GPUs {
		if gpu.PCI == pci {
			return true
		}
	}
	return false
}

func (g *gpuHost) passthruInfo(id string) *types.HostPciPassthruInfo {
	for _, info := range g.host.Config.PciPassthruInfo {
		if p := info.GetHostPciPassthruInfo(); p.Id == id {
			return p
		}
	}
	return nil
}

// applyGraphicsInfo sets each GPU's active graphics type from the configuration, as a boot does:
// an active passthrough device is "direct", otherwise its own type or the host default.
func (g *gpuHost) applyGraphicsInfo() {
	cfg := g.host.Config.GraphicsConfig
	infos := make([]types.HostGraphicsInfo, 0, len(g.seed.GPUs))
	for _, gpu := range g.seed.GPUs {
		active := cfg.HostDefaultGraphicsType
		for _, d := range cfg.DeviceType {
			if d.DeviceId == gpu.PCI {
				active = d.GraphicsType
			}
		}
		if g.passthruInfo(gpu.PCI).PassthruActive {
			active = "direct"
		}
		infos = append(infos, types.HostGraphicsInfo{
			DeviceName:     gpu.displayName(),
			VendorName:     "NVIDIA Corporation",
			PciId:          gpu.PCI,
			GraphicsType:   active,
			MemorySizeInKB: gpu.MemoryMB * 1024,
		})
	}
	g.host.Config.GraphicsInfo = infos
	g.graphics.GraphicsInfo = infos
}

// boot brings the host back after a reboot: pending passthrough and graphics settings become
// active, the boot time moves and vCenter sees the host connected again.
func (g *gpuHost) boot() {
	simulator.Map.WithLock(g.host, func() {
		for _, info := range g.host.Config.PciPassthruInfo {
			p := info.GetHostPciPassthruInfo()
			p.PassthruActive = p.PassthruEnabled
		}
		g.applyGraphicsInfo()
		now := time.Now()
		g.host.Runtime.BootTime = &now
		g.host.Runtime.ConnectionState = types.HostSystemConnectionStateConnected
		g.host.Runtime.PowerState = types.HostSystemPowerStatePoweredOn
	})
}

// rebooter implements RebootHost_Task: the task succeeds once the reboot starts, as on vCenter,
// then the host is not responding for downtime and reconnects.
func rebooter(hosts map[types.ManagedObjectReference]*gpuHost, downtime time.Duration) func(*simulator.Context, *simulator.HostSystem, *types.RebootHost_Task) soap.HasFault {
	return func(_ *simulator.Context, host *simulator.HostSystem, req *types.RebootHost_Task) soap.HasFault {
		gpu := hosts[host.Self]
		task := simulator.CreateTask(host, "rebootHost", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
			if host.Runtime.ConnectionState != types.HostSystemConnectionStateConnected {
				return nil, &types.HostNotConnected{}
			}
			if !req.Force && !host.Runtime.InMaintenanceMode {
				return nil, &types.InvalidState{}
			}
			if gpu.seed.Fail == failReboot {
				return nil, &types.SystemError{Reason: "reboot of " + host.Name + " failed (seed: fail=reboot)"}
			}
			host.Runtime.ConnectionState = types.HostSystemConnectionStateNotResponding
			host.Runtime.PowerState = types.HostSystemPowerStateUnknown
			time.AfterFunc(downtime, gpu.boot)
			return nil, nil
		})
		return &methods.RebootHost_TaskBody{Res: &types.RebootHost_TaskResponse{Returnval: task.Run()}}
	}
}

// environmentBrowser adds to vcsim's QueryConfigTarget the PCI devices a VM can be given
// through DirectPath I/O: the host's GPUs whose passthrough is active, with the host's system id,
// as vCenter lists them in ConfigTarget.pciPassthrough.
type environmentBrowser struct {
	*simulator.EnvironmentBrowser
	computeResource types.ManagedObjectReference
	hosts           map[types.ManagedObjectReference]*gpuHost
}

func (b *environmentBrowser) QueryConfigTarget(ctx *simulator.Context, req *types.QueryConfigTarget) soap.HasFault {
	body := b.EnvironmentBrowser.QueryConfigTarget(ctx, req).(*methods.QueryConfigTargetBody)
	if body.Res == nil {
		return body
	}
	refs := []types.ManagedObjectReference{}
	if req.Host != nil {
		refs = append(refs, *req.Host)
	} else {
		switch cr := simulator.Map.Get(b.computeResource).(type) {
		case *simulator.ClusterComputeResource:
			refs = cr.Host
		case *mo.ComputeResource:
			refs = cr.Host
		}
	}
	target := body.Res.Returnval
	for _, ref := range refs {
		g := b.hosts[ref]
		if g == nil {
			continue
		}
		simulator.Map.WithLock(g.host, func() {
			for _, d := range g.host.Hardware.PciDevice {
				if info := g.passthruInfo(d.Id); info != nil && info.PassthruActive {
					target.PciPassthrough = append(target.PciPassthrough, &types.VirtualMachinePciPassthroughInfo{
						VirtualMachineTargetInfo: types.VirtualMachineTargetInfo{Name: d.DeviceName},
						PciDevice:                d,
						SystemId:                 g.host.Hardware.SystemInfo.Uuid,
					})
				}
			}
		})
	}
	return body
}

// wrapEnvironmentBrowsers replaces each compute resource's environment browser by one that
// lists passthrough devices, with the simulator's wrap/extend pattern.
func wrapEnvironmentBrowsers(hosts map[types.ManagedObjectReference]*gpuHost) {
	seen := map[types.ManagedObjectReference]bool{}
	for _, g := range hosts {
		parent := *g.host.Parent
		if seen[parent] {
			continue
		}
		seen[parent] = true
		var browser *types.ManagedObjectReference
		switch cr := simulator.Map.Get(parent).(type) {
		case *simulator.ClusterComputeResource:
			browser = cr.EnvironmentBrowser
		case *mo.ComputeResource:
			browser = cr.EnvironmentBrowser
		}
		if original, ok := simulator.Map.Get(*browser).(*simulator.EnvironmentBrowser); ok {
			simulator.Map.Put(&environmentBrowser{EnvironmentBrowser: original, computeResource: parent, hosts: hosts})
		}
	}
}

// addGPUs registers the host's graphics manager and passthrough system and seeds its NVIDIA
// devices, passthrough state, graphics state and vGPU types.
func addGPUs(host *simulator.HostSystem, seed SeedHost) *gpuHost {
	g := &gpuHost{host: host, seed: seed}
	host.Capability = &types.HostCapability{
		RebootSupported:          true,
		ShutdownSupported:        true,
		MaintenanceModeSupported: true,
		VmotionSupported:         true,
	}
	if seed.Fail == failMaintenanceMode {
		host.DisabledMethod = append(host.DisabledMethod, "EnterMaintenanceModeTask")
	}

	// The template's PCI device list is shared by every host; copy before adding to it.
	devices := append([]types.HostPciDevice(nil), host.Hardware.PciDevice...)
	var passthru []types.BaseHostPciPassthruInfo
	for _, d := range devices {
		passthru = append(passthru, &types.HostPciPassthruInfo{Id: d.Id, DependentDevice: d.Id})
	}
	var vgpuTypes []string
	offered := map[string]bool{}
	for _, gpu := range seed.GPUs {
		m := pciAddress.FindStringSubmatch(gpu.PCI)
		bus, _ := strconv.ParseUint(m[2], 16, 8)
		slot, _ := strconv.ParseUint(m[3], 16, 8)
		function, _ := strconv.ParseUint(m[4], 16, 8)
		id, _ := gpu.deviceID()
		devices = append(devices, types.HostPciDevice{
			Id:          gpu.PCI,
			ClassId:     displayClass3D,
			Bus:         byte(bus),
			Slot:        byte(slot),
			Function:    byte(function),
			VendorId:    int16(uint16(nvidiaVendorID)),
			SubVendorId: int16(uint16(nvidiaVendorID)),
			VendorName:  "NVIDIA Corporation",
			DeviceId:    int16(id),
			DeviceName:  gpu.displayName(),
		})
		passthru = append(passthru, &types.HostPciPassthruInfo{
			Id: gpu.PCI, DependentDevice: gpu.PCI, PassthruCapable: true,
		})
		for _, p := range gpu.Profiles {
			if !offered[p] {
				offered[p] = true
				vgpuTypes = append(vgpuTypes, p)
			}
		}
	}
	host.Hardware.PciDevice = devices
	host.Config.PciPassthruInfo = passthru
	host.Config.SharedPassthruGpuTypes = vgpuTypes
	var capabilities []types.HostSharedGpuCapabilities
	for _, p := range vgpuTypes {
		capabilities = append(capabilities, types.HostSharedGpuCapabilities{
			Vgpu: p, DiskSnapshotSupported: true, MemorySnapshotSupported: true,
			SuspendSupported: true, MigrateSupported: true,
		})
	}
	host.Config.SharedGpuCapabilities = capabilities
	// ESXi's defaults: Shared (vSGA) and the "performance" (spread) assignment policy.
	host.Config.GraphicsConfig = &types.HostGraphicsConfig{
		HostDefaultGraphicsType:        "shared",
		SharedPassthruAssignmentPolicy: "performance",
	}

	g.graphics = &graphicsManager{gpu: g}
	g.graphics.Self = types.ManagedObjectReference{Type: "HostGraphicsManager", Value: "graphicsManager-" + host.Self.Value}
	g.graphics.GraphicsConfig = host.Config.GraphicsConfig
	g.graphics.SharedPassthruGpuTypes = vgpuTypes
	g.graphics.SharedGpuCapabilities = capabilities
	g.passthru = &pciPassthruSystem{gpu: g}
	g.passthru.Self = types.ManagedObjectReference{Type: "HostPciPassthruSystem", Value: "pciPassthruSystem-" + host.Self.Value}
	g.passthru.PciPassthruInfo = passthru
	g.applyGraphicsInfo()

	simulator.Map.Put(g.graphics)
	simulator.Map.Put(g.passthru)
	host.ConfigManager.GraphicsManager = &g.graphics.Self
	host.ConfigManager.PciPassthruSystem = &g.passthru.Self
	return g
}

// inventory creates the seed's datacenter, clusters, hosts, datastore and VMs through the API.
type inventory struct {
	ctx     context.Context
	client  *govmomi.Client
	folders *object.DatacenterFolders
	dsDir   string
	hosts   map[string]*object.HostSystem
	pools   map[string]*object.ResourcePool
}

func (inv *inventory) wait(task *object.Task, err error) (types.AnyType, error) {
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(inv.ctx, nil)
	if err != nil {
		return nil, err
	}
	return info.Result, nil
}

func (inv *inventory) addHosts(seed *Seed) error {
	clusters := map[string]*object.ClusterComputeResource{}
	for _, h := range seed.Hosts {
		spec := types.HostConnectSpec{HostName: h.Name}
		var result types.AnyType
		var err error
		if h.Cluster == "" {
			result, err = inv.wait(inv.folders.HostFolder.AddStandaloneHost(inv.ctx, spec, true, nil, nil))
		} else {
			cluster := clusters[h.Cluster]
			if cluster == nil {
				cluster, err = inv.folders.HostFolder.CreateCluster(inv.ctx, h.Cluster, types.ClusterConfigSpecEx{})
				if err != nil {
					return err
				}
				clusters[h.Cluster] = cluster
			}
			result, err = inv.wait(cluster.AddHost(inv.ctx, spec, true, nil, nil))
		}
		if err != nil {
			return fmt.Errorf("add host %s: %v", h.Name, err)
		}
		host := object.NewHostSystem(inv.client.Client, result.(types.ManagedObjectReference))
		pool, err := host.ResourcePool(inv.ctx)
		if err != nil {
			return err
		}
		datastores, err := host.ConfigManager().DatastoreSystem(inv.ctx)
		if err != nil {
			return err
		}
		if _, err = datastores.CreateLocalDatastore(inv.ctx, datastoreName, inv.dsDir); err != nil {
			return err
		}
		inv.hosts[h.Name] = host
		inv.pools[h.Name] = pool
	}
	return nil
}

func (inv *inventory) addVMs(seed *Seed) error {
	for _, vm := range seed.VMs {
		cpus := vm.CPUs
		if cpus == 0 {
			cpus = 2
		}
		spec := types.VirtualMachineConfigSpec{
			Name:     vm.Name,
			GuestId:  string(types.VirtualMachineGuestOsIdentifierUbuntu64Guest),
			MemoryMB: vm.MemoryMB,
			NumCPUs:  cpus,
			Files:    &types.VirtualMachineFileInfo{VmPathName: "[" + datastoreName + "]"},
		}
		host := inv.hosts[vm.Host]
		result, err := inv.wait(inv.folders.VmFolder.CreateVM(inv.ctx, spec, inv.pools[vm.Host], host))
		if err != nil {
			return fmt.Errorf("create vm %s: %v", vm.Name, err)
		}
		if !vm.PoweredOff {
			created := object.NewVirtualMachine(inv.client.Client, result.(types.ManagedObjectReference))
			if _, err = inv.wait(created.PowerOn(inv.ctx)); err != nil {
				return fmt.Errorf("power on vm %s: %v", vm.Name, err)
			}
		}
	}
	return nil
}

func run() error {
	seedPath := flag.String("seed", "", "inventory seed (JSON, see README.md)")
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0: any free port)")
	downtime := flag.Duration("reboot-downtime", 2*time.Second, "how long a rebooting host is not responding")
	flag.Parse()
	if *seedPath == "" {
		return fmt.Errorf("-seed is required")
	}
	seed, err := readSeed(*seedPath)
	if err != nil {
		return err
	}

	model := simulator.VPX()
	model.Datacenter, model.Host, model.Cluster, model.ClusterHost = 0, 0, 0, 0
	model.Portgroup, model.Datastore, model.Machine = 0, 0, 0
	model.ServiceContent.About.ApiVersion = apiVersion
	model.ServiceContent.About.Version = productVersion
	model.ServiceContent.About.FullName = "VMware vCenter Server " + productVersion + " (gpuc-vcsim, govmomi simulator)"
	if err = model.Create(); err != nil {
		return err
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))}
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()
	defer server.Close()

	ctx := context.Background()
	client, err := govmomi.NewClient(ctx, server.URL, true)
	if err != nil {
		return err
	}
	dc, err := object.NewRootFolder(client.Client).CreateDatacenter(ctx, seed.Datacenter)
	if err != nil {
		return err
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	dsDir, err := ioutil.TempDir("", "gpuc-vcsim-ds-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dsDir)

	inv := &inventory{ctx: ctx, client: client, folders: folders, dsDir: dsDir,
		hosts: map[string]*object.HostSystem{}, pools: map[string]*object.ResourcePool{}}
	if err = inv.addHosts(seed); err != nil {
		return err
	}
	if err = inv.addVMs(seed); err != nil {
		return err
	}
	gpuHosts := map[types.ManagedObjectReference]*gpuHost{}
	for _, h := range seed.Hosts {
		host := simulator.Map.Get(inv.hosts[h.Name].Reference()).(*simulator.HostSystem)
		gpuHosts[host.Self] = addGPUs(host, h)
	}
	simulator.HostRebooter = rebooter(gpuHosts, *downtime)
	wrapEnvironmentBrowsers(gpuHosts)
	if err = client.Logout(ctx); err != nil {
		return err
	}

	fmt.Printf("GPUC_VCSIM_URL=%s\n", server.URL)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	return nil
}

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatalf("gpuc-vcsim: %v", err)
	}
}
