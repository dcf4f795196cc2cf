// Image records as the daemon keeps them (one per image in the store, kind "image") and the image
// config fields berth uses. Wire shapes (Docker's inspect/list JSON) are made in service.ts.

/** The runtime defaults an image carries (Docker's image config "config" object). */
export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, {}>;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Volumes?: Record<string, {}>;
  Healthcheck?: unknown;
}

export interface ImageRecord {
  /** 64 hex: sha256 of the config blob. */
  id: string;
  /** Familiar "name:tag" forms, e.g. "busybox:latest", "localhost:5000/x/y:1". */
  repoTags: string[];
  /** "name@sha256:…" forms (from a registry). */
  repoDigests: string[];
  /** RFC 3339. */
  created: string;
  /** Sum of the layers' sizes (bytes of regular files). */
  size: number;
  architecture: string;
  os: string;
  config: ImageConfig;
  /** Diff ids "sha256:<hex>", bottom first. */
  layers: string[];
  comment?: string;
  /** When a tag was last added (Docker's Metadata.LastTagTime). */
  lastTagTime?: string;
}

/** The image config blob (OCI image config / Docker's image JSON), the fields berth reads and writes. */
export interface ConfigBlob {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  comment?: string;
  docker_version?: string;
  config?: ImageConfig;
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}
