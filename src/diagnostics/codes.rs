//! The registry of diagnostic codes: one line per code, with the rule it enforces, its
//! severity and its one-line title. The long explanation of each code lives in
//! `explain/<CODE>.md` and is what `gpuc explain CODE` prints.
//!
//! Numbering: `E` (error) or `W` (warning), then the rule number of DESIGN.md (`00` for the
//! language itself, `99` for internal errors), then a running number within the rule.

use super::Severity;

macro_rules! codes {
    ($($variant:ident = $code:literal, $rule:literal, $severity:ident, $title:literal;)*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $title] $variant,)*
        }

        impl Code {
            /// Every code, in numbering order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as users see it, e.g. `E1001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The rule of DESIGN.md this code enforces (`R1`..`R20`), or `language` / `internal`.
            pub fn rule(self) -> &'static str {
                match self { $(Code::$variant => $rule,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line, shown by `gpuc explain --list`.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }

            /// The long form, shown by `gpuc explain CODE`.
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => include_str!(concat!("explain/", $code, ".md")),)* }
            }
        }
    };
}

codes! {
    Syntax = "E0001", "language", Error, "the text is not valid .gpu syntax";
    UnknownAttribute = "E0002", "language", Error, "unknown attribute or block for this kind of block";
    MissingAttribute = "E0003", "language", Error, "a required attribute is missing";
    RepeatedAttribute = "E0004", "language", Error, "an attribute is given more than once";
    WrongValueKind = "E0005", "language", Error, "a value has the wrong kind for its attribute";
    InvalidValue = "E0006", "language", Error, "a value is out of range or malformed";
    InvalidRange = "E0007", "language", Error, "a name range is empty, reversed or too large";
    ImportUnreadable = "E0008", "language", Error, "an imported file or catalog cannot be read";
    ImportCycle = "E0009", "language", Error, "files import each other in a loop";
    CatalogInvalid = "E0010", "language", Error, "a GPU catalog file is not valid";
    MalformedNumber = "E0011", "language", Error, "a number or unquoted version is malformed";
    MalformedQuantity = "E0012", "language", Error, "a size, duration or other quantity is malformed";
    UnknownEscape = "E0013", "language", Error, "a string holds an escape that does not exist";
    DuplicateName = "E0101", "R1", Error, "two entities of one kind share a name";
    UnknownReference = "E0102", "R1", Error, "a reference names nothing that exists";
    MalformedPci = "E0201", "R2", Error, "a PCI address is malformed";
    DuplicatePci = "E0202", "R2", Error, "two GPUs of one host share a PCI address";
    UnknownModel = "E0203", "R2", Error, "a GPU model is not in the catalog";
    PassthroughShared = "E0301", "R3", Error, "a passthrough GPU is assigned to more than one VM";
    GpuModeMismatch = "E0302", "R3", Error, "a GPU is used in a mode it is not configured for";
    ForeignGpu = "E0303", "R3", Error, "a VM uses a GPU of another host";
    MixedGpuAccess = "E0304", "R3", Error, "a VM has both passthrough GPUs and vGPUs";
    MmioTooSmall = "E0401", "R4", Error, "the declared 64-bit MMIO size is smaller than the GPUs need";
    MmioNotPowerOfTwo = "E0402", "R4", Error, "the declared 64-bit MMIO size is not a power of two";
    BiosFirmware = "E0501", "R5", Error, "a VM with a large-BAR GPU boots BIOS instead of EFI";
    FirmwareUndeclared = "E0502", "R5", Error, "a VM that needs EFI does not declare its firmware";
    Above4gDisabled = "E0601", "R6", Error, "a host with a large-BAR GPU has above-4G decoding off";
    SrIovDisabled = "E0602", "R6", Error, "SR-IOV is off on a host whose GPUs need it for vGPU";
    PartialReservation = "E0701", "R7", Error, "a GPU VM reserves less than all of its memory";
    HostOvercommitted = "E0702", "R7", Error, "the memory reservations on a host exceed its memory";
    TooManyPassthrough = "E0801", "R8", Error, "a VM has more passthrough devices than its ESXi allows";
    VgpuTypeUnknown = "E0901", "R9", Error, "a vGPU type does not exist for the board it lands on";
    VgpuTypeRelease = "E0902", "R9", Error, "a vGPU type is not offered by the host's vGPU release";
    VgpuProduct = "E0903", "R9", Error, "the host's NVIDIA product does not offer the vGPU type or board";
    VgpuCapacity = "E1001", "R10", Error, "more vGPUs on one physical GPU than the type allows";
    MixedTypes = "E1101", "R11", Error, "different vGPU types on one GPU in same-size mode";
    MixedSizeUnsupported = "E1102", "R11", Error, "mixed-size mode needs vGPU 17 and ESXi 8.0 U3";
    MixedSizeFixedShare = "E1103", "R11", Error, "mixed-size mode cannot use the fixed share scheduler";
    MixedSizeType = "E1104", "R11", Error, "a vGPU type has no mixed-size limit on this board";
    MigMismatch = "E1105", "R11", Error, "a MIG-backed type on a time-sliced GPU, or a time-sliced type on a MIG GPU";
    MigUnsupported = "E1106", "R11", Error, "MIG mode on a board or host that cannot run it";
    NoRoom = "E1201", "R12", Error, "a vGPU fits on no GPU of its host";
    NoHostDriver = "E1301", "R13", Error, "a vGPU host has no NVIDIA host driver";
    RelativeVib = "E1302", "R13", Error, "the NVIDIA VIB path is not absolute";
    EsxiTooOld = "E1303", "R13", Error, "the ESXi version does not support vGPU";
    SharedGraphics = "E1304", "R13", Error, "a vGPU host's graphics type is not SharedPassthru";
    ProductDriverFile = "E1305", "R13", Error, "the host driver file belongs to the other NVIDIA product";
    EccWithVgpu = "E1401", "R14", Error, "ECC is wanted on a vGPU GPU that cannot run vGPU with ECC";
    SchedulerOnMaxwell = "E1501", "R15", Error, "a scheduler other than best effort on a Maxwell GPU";
    InvalidTimeSlice = "E1502", "R15", Error, "a scheduler time slice that the release or policy cannot take";
    Unlicensed = "E1601", "R16", Error, "a vGPU guest has no licence";
    LicenceKind = "E1602", "R16", Error, "the licence kind does not work with the vGPU release";
    LegacyLicenceRetired = "W1603", "R16", Warning, "a legacy licence server on a release that also takes NLS (13, 14)";
    ProductOnVgpu = "E1604", "R16", Error, "a licence product is given for a vGPU guest";
    DriverBranch = "E1701", "R17", Error, "the guest driver branch does not match the host vGPU manager";
    CudaDriver = "E1702", "R17", Error, "the guest driver is older than the CUDA version needs";
    UnknownCuda = "E1703", "R17", Error, "a CUDA version is not in the driver table";
    PassthroughMobility = "E1801", "R18", Error, "a passthrough VM asks for vMotion, DRS or snapshots";
    VgpuVmotionTooOld = "E1802", "R18", Error, "vGPU vMotion needs ESXi 6.7 U1 or later";
    TooManyVgpus = "E1901", "R19", Error, "more vGPUs in one VM than the ESXi version allows";
    MultiVgpuType = "E1902", "R19", Error, "a VM with several vGPUs uses a type that cannot be combined";
    MultiVgpuMixed = "E1903", "R19", Error, "the vGPUs of one VM differ in board or series";
    BitfusionServerNoGpu = "E2001", "R20", Error, "a Bitfusion server is not a VM with GPUs";
    BitfusionNoServer = "E2002", "R20", Error, "a Bitfusion client has no server";
    BitfusionShare = "E2003", "R20", Error, "a Bitfusion share is outside (0, 1]";
    BitfusionMemory = "E2004", "R20", Error, "a Bitfusion client asks for more memory than a GPU has";
    BitfusionGpus = "E2005", "R20", Error, "a Bitfusion client asks for more GPUs than its servers have";
    BitfusionDiscontinued = "W2006", "R20", Warning, "Bitfusion is discontinued";
    Internal = "E9999", "internal", Error, "internal compiler error";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = ();

    /// Accepts `E1001`, `e1001` or `1001`.
    fn from_str(s: &str) -> Result<Code, ()> {
        let s = s.trim();
        Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(s) || c.as_str().get(1..) == Some(s)).ok_or(())
    }
}
