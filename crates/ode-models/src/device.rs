//! Device selection: a flag, never a hard-coded `Device::Cpu`.

use std::str::FromStr;

use tch::Device;

/// What the user asked for on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceFlag {
    Cpu,
    Cuda(usize),
    /// CUDA device 0 when available, else the CPU.
    Auto,
}

impl DeviceFlag {
    /// The tch device this flag selects on this machine.
    pub fn resolve(self) -> Device {
        match self {
            DeviceFlag::Cpu => Device::Cpu,
            DeviceFlag::Cuda(i) => Device::Cuda(i),
            DeviceFlag::Auto => Device::cuda_if_available(),
        }
    }
}

impl FromStr for DeviceFlag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(DeviceFlag::Cpu),
            "auto" => Ok(DeviceFlag::Auto),
            "cuda" => Ok(DeviceFlag::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(i)) => Ok(DeviceFlag::Cuda(i)),
                _ => Err(format!("unknown device `{s}`; use cpu, cuda, cuda:N or auto")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_and_auto_resolves_to_an_available_device() {
        assert_eq!("cpu".parse::<DeviceFlag>().unwrap(), DeviceFlag::Cpu);
        assert_eq!("cuda:1".parse::<DeviceFlag>().unwrap(), DeviceFlag::Cuda(1));
        assert!("gpu".parse::<DeviceFlag>().is_err());
        let d = DeviceFlag::Auto.resolve();
        assert_eq!(d.is_cuda(), tch::Cuda::is_available());
        let t = tch::Tensor::from_slice(&[1.0f64, 2.0]).to_device(d);
        assert_eq!(t.sum(tch::Kind::Double).double_value(&[]), 3.0);
    }
}
