//! The flags of the cluster backends, flattened into `netpol run`.

use std::path::PathBuf;

use super::exec::ProbeVia;

#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Cluster backends (kind, kubeconfig)")]
pub struct ClusterArgs {
    /// Print the complete plan (kind config, CNI manifests and versions,
    /// images, objects, steps) and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the kind cluster after the run (it is deleted otherwise).
    #[arg(long)]
    pub keep: bool,
    /// The kind cluster's name; an existing cluster of that name is reused
    /// as it is (and kept).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// Probe by pod IP, by Service ClusterIP, or both (listing every cell
    /// where the two differ).
    #[arg(long, value_enum, value_name = "VIA")]
    pub probe_via: Option<ProbeVia>,
    /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The probe image the cluster pulls (kubeconfig backend: required,
    /// since nothing can be loaded into someone else's nodes).
    #[arg(long, value_name = "IMAGE")]
    pub probe_image: Option<String>,
}

impl ClusterArgs {
    pub fn via(&self) -> ProbeVia {
        self.probe_via.unwrap_or(ProbeVia::Pod)
    }
}
