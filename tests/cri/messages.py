"""The CRI messages these tests use, by field number (kubernetes/cri-api, runtime.v1).

Only the fields a kubelet-like client sends or these tests read are listed;
decode() skips the rest. Enums are plain ints, named below.
"""

from .wire import MAP, Repeated, Schema

# enum NamespaceMode, PodSandboxState, ContainerState
NS_POD, NS_CONTAINER, NS_NODE = 0, 1, 2
SANDBOX_READY, SANDBOX_NOTREADY = 0, 1
CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED, CONTAINER_UNKNOWN = 0, 1, 2, 3

EMPTY = Schema("Empty", {})
UINT64_VALUE = Schema("UInt64Value", {"value": (1, "uint64")})

VERSION_REQUEST = Schema("VersionRequest", {"version": (1, "string")})
VERSION_RESPONSE = Schema("VersionResponse", {
    "version": (1, "string"), "runtime_name": (2, "string"),
    "runtime_version": (3, "string"), "runtime_api_version": (4, "string")})

NAMESPACE_OPTION = Schema("NamespaceOption", {
    "network": (1, "enum"), "pid": (2, "enum"), "ipc": (3, "enum"),
    "target_id": (4, "string")})
LINUX_CONTAINER_RESOURCES = Schema("LinuxContainerResources", {
    "cpu_period": (1, "int64"), "cpu_quota": (2, "int64"), "cpu_shares": (3, "int64"),
    "memory_limit_in_bytes": (4, "int64"), "oom_score_adj": (5, "int64"),
    "cpuset_cpus": (6, "string"), "cpuset_mems": (7, "string"),
    "unified": (9, MAP), "memory_swap_limit_in_bytes": (10, "int64")})
LINUX_SANDBOX_SECURITY_CONTEXT = Schema("LinuxSandboxSecurityContext", {
    "namespace_options": (1, NAMESPACE_OPTION), "readonly_rootfs": (4, "bool"),
    "privileged": (6, "bool")})
LINUX_POD_SANDBOX_CONFIG = Schema("LinuxPodSandboxConfig", {
    "cgroup_parent": (1, "string"), "security_context": (2, LINUX_SANDBOX_SECURITY_CONTEXT),
    "sysctls": (3, MAP), "overhead": (4, LINUX_CONTAINER_RESOURCES),
    "resources": (5, LINUX_CONTAINER_RESOURCES)})
POD_SANDBOX_METADATA = Schema("PodSandboxMetadata", {
    "name": (1, "string"), "uid": (2, "string"), "namespace": (3, "string"),
    "attempt": (4, "uint32")})
DNS_CONFIG = Schema("DNSConfig", {
    "servers": (1, Repeated("string")), "searches": (2, Repeated("string")),
    "options": (3, Repeated("string"))})
POD_SANDBOX_CONFIG = Schema("PodSandboxConfig", {
    "metadata": (1, POD_SANDBOX_METADATA), "hostname": (2, "string"),
    "log_directory": (3, "string"), "dns_config": (4, DNS_CONFIG),
    "labels": (6, MAP), "annotations": (7, MAP), "linux": (8, LINUX_POD_SANDBOX_CONFIG)})

RUN_POD_SANDBOX_REQUEST = Schema("RunPodSandboxRequest", {
    "config": (1, POD_SANDBOX_CONFIG), "runtime_handler": (2, "string")})
RUN_POD_SANDBOX_RESPONSE = Schema("RunPodSandboxResponse", {"pod_sandbox_id": (1, "string")})
POD_SANDBOX_ID = Schema("PodSandboxIdRequest", {"pod_sandbox_id": (1, "string")})

POD_SANDBOX_STATUS_REQUEST = Schema("PodSandboxStatusRequest", {
    "pod_sandbox_id": (1, "string"), "verbose": (2, "bool")})
POD_IP = Schema("PodIP", {"ip": (1, "string")})
POD_SANDBOX_NETWORK_STATUS = Schema("PodSandboxNetworkStatus", {
    "ip": (1, "string"), "additional_ips": (2, Repeated(POD_IP))})
LINUX_POD_SANDBOX_STATUS = Schema("LinuxPodSandboxStatus", {
    "namespaces": (1, Schema("Namespace", {"options": (2, NAMESPACE_OPTION)}))})
POD_SANDBOX_STATUS = Schema("PodSandboxStatus", {
    "id": (1, "string"), "metadata": (2, POD_SANDBOX_METADATA), "state": (3, "enum"),
    "created_at": (4, "int64"), "network": (5, POD_SANDBOX_NETWORK_STATUS),
    "linux": (6, LINUX_POD_SANDBOX_STATUS), "labels": (7, MAP), "annotations": (8, MAP),
    "runtime_handler": (9, "string")})
POD_SANDBOX_STATUS_RESPONSE = Schema("PodSandboxStatusResponse", {
    "status": (1, POD_SANDBOX_STATUS), "info": (2, MAP)})

STATE_VALUE = Schema("StateValue", {"state": (1, "enum")})
POD_SANDBOX_FILTER = Schema("PodSandboxFilter", {
    "id": (1, "string"), "state": (2, STATE_VALUE), "label_selector": (3, MAP)})
POD_SANDBOX = Schema("PodSandbox", {
    "id": (1, "string"), "metadata": (2, POD_SANDBOX_METADATA), "state": (3, "enum"),
    "created_at": (4, "int64"), "labels": (5, MAP), "annotations": (6, MAP),
    "runtime_handler": (7, "string")})
LIST_POD_SANDBOX_REQUEST = Schema("ListPodSandboxRequest", {"filter": (1, POD_SANDBOX_FILTER)})
LIST_POD_SANDBOX_RESPONSE = Schema("ListPodSandboxResponse", {"items": (1, Repeated(POD_SANDBOX))})

IMAGE_SPEC = Schema("ImageSpec", {"image": (1, "string"), "annotations": (2, MAP)})
KEY_VALUE = Schema("KeyValue", {"key": (1, "string"), "value": (2, "string")})
MOUNT = Schema("Mount", {
    "container_path": (1, "string"), "host_path": (2, "string"), "readonly": (3, "bool"),
    "propagation": (5, "enum")})
CONTAINER_METADATA = Schema("ContainerMetadata", {"name": (1, "string"), "attempt": (2, "uint32")})
LINUX_CONTAINER_SECURITY_CONTEXT = Schema("LinuxContainerSecurityContext", {
    "privileged": (2, "bool"), "namespace_options": (3, NAMESPACE_OPTION),
    "readonly_rootfs": (7, "bool"), "no_new_privs": (11, "bool")})
LINUX_CONTAINER_CONFIG = Schema("LinuxContainerConfig", {
    "resources": (1, LINUX_CONTAINER_RESOURCES),
    "security_context": (2, LINUX_CONTAINER_SECURITY_CONTEXT)})
CONTAINER_CONFIG = Schema("ContainerConfig", {
    "metadata": (1, CONTAINER_METADATA), "image": (2, IMAGE_SPEC),
    "command": (3, Repeated("string")), "args": (4, Repeated("string")),
    "working_dir": (5, "string"), "envs": (6, Repeated(KEY_VALUE)),
    "mounts": (7, Repeated(MOUNT)), "labels": (9, MAP), "annotations": (10, MAP),
    "log_path": (11, "string"), "stdin": (12, "bool"), "stdin_once": (13, "bool"),
    "tty": (14, "bool"), "linux": (15, LINUX_CONTAINER_CONFIG)})

CREATE_CONTAINER_REQUEST = Schema("CreateContainerRequest", {
    "pod_sandbox_id": (1, "string"), "config": (2, CONTAINER_CONFIG),
    "sandbox_config": (3, POD_SANDBOX_CONFIG)})
CONTAINER_ID = Schema("ContainerIdRequest", {"container_id": (1, "string")})
STOP_CONTAINER_REQUEST = Schema("StopContainerRequest", {
    "container_id": (1, "string"), "timeout": (2, "int64")})

CONTAINER_FILTER = Schema("ContainerFilter", {
    "id": (1, "string"), "state": (2, STATE_VALUE), "pod_sandbox_id": (3, "string"),
    "label_selector": (4, MAP)})
CONTAINER = Schema("Container", {
    "id": (1, "string"), "pod_sandbox_id": (2, "string"), "metadata": (3, CONTAINER_METADATA),
    "image": (4, IMAGE_SPEC), "image_ref": (5, "string"), "state": (6, "enum"),
    "created_at": (7, "int64"), "labels": (8, MAP), "annotations": (9, MAP)})
LIST_CONTAINERS_REQUEST = Schema("ListContainersRequest", {"filter": (1, CONTAINER_FILTER)})
LIST_CONTAINERS_RESPONSE = Schema("ListContainersResponse", {
    "containers": (1, Repeated(CONTAINER))})

CONTAINER_STATUS_REQUEST = Schema("ContainerStatusRequest", {
    "container_id": (1, "string"), "verbose": (2, "bool")})
CONTAINER_STATUS = Schema("ContainerStatus", {
    "id": (1, "string"), "metadata": (2, CONTAINER_METADATA), "state": (3, "enum"),
    "created_at": (4, "int64"), "started_at": (5, "int64"), "finished_at": (6, "int64"),
    "exit_code": (7, "int32"), "image": (8, IMAGE_SPEC), "image_ref": (9, "string"),
    "reason": (10, "string"), "message": (11, "string"), "labels": (12, MAP),
    "annotations": (13, MAP), "mounts": (14, Repeated(MOUNT)), "log_path": (15, "string")})
CONTAINER_STATUS_RESPONSE = Schema("ContainerStatusResponse", {
    "status": (1, CONTAINER_STATUS), "info": (2, MAP)})

UPDATE_CONTAINER_RESOURCES_REQUEST = Schema("UpdateContainerResourcesRequest", {
    "container_id": (1, "string"), "linux": (2, LINUX_CONTAINER_RESOURCES),
    "annotations": (4, MAP)})

EXEC_SYNC_REQUEST = Schema("ExecSyncRequest", {
    "container_id": (1, "string"), "cmd": (2, Repeated("string")), "timeout": (3, "int64")})
EXEC_SYNC_RESPONSE = Schema("ExecSyncResponse", {
    "stdout": (1, "bytes"), "stderr": (2, "bytes"), "exit_code": (3, "int32")})

CONTAINER_ATTRIBUTES = Schema("ContainerAttributes", {
    "id": (1, "string"), "metadata": (2, CONTAINER_METADATA), "labels": (3, MAP),
    "annotations": (4, MAP)})
CPU_USAGE = Schema("CpuUsage", {
    "timestamp": (1, "int64"), "usage_core_nano_seconds": (2, UINT64_VALUE),
    "usage_nano_cores": (3, UINT64_VALUE)})
MEMORY_USAGE = Schema("MemoryUsage", {
    "timestamp": (1, "int64"), "working_set_bytes": (2, UINT64_VALUE),
    "available_bytes": (3, UINT64_VALUE), "usage_bytes": (4, UINT64_VALUE),
    "rss_bytes": (5, UINT64_VALUE), "page_faults": (6, UINT64_VALUE),
    "major_page_faults": (7, UINT64_VALUE)})
CONTAINER_STATS = Schema("ContainerStats", {
    "attributes": (1, CONTAINER_ATTRIBUTES), "cpu": (2, CPU_USAGE),
    "memory": (3, MEMORY_USAGE)})
CONTAINER_STATS_RESPONSE = Schema("ContainerStatsResponse", {"stats": (1, CONTAINER_STATS)})

IMAGE = Schema("Image", {
    "id": (1, "string"), "repo_tags": (2, Repeated("string")),
    "repo_digests": (3, Repeated("string")), "size": (4, "uint64")})
LIST_IMAGES_REQUEST = Schema("ListImagesRequest", {
    "filter": (1, Schema("ImageFilter", {"image": (1, IMAGE_SPEC)}))})
LIST_IMAGES_RESPONSE = Schema("ListImagesResponse", {"images": (1, Repeated(IMAGE))})

RUNTIME, IMAGES = "runtime.v1.RuntimeService", "runtime.v1.ImageService"

# method -> (service, request type, response type)
METHODS = {
    "Version": (RUNTIME, VERSION_REQUEST, VERSION_RESPONSE),
    "RunPodSandbox": (RUNTIME, RUN_POD_SANDBOX_REQUEST, RUN_POD_SANDBOX_RESPONSE),
    "StopPodSandbox": (RUNTIME, POD_SANDBOX_ID, EMPTY),
    "RemovePodSandbox": (RUNTIME, POD_SANDBOX_ID, EMPTY),
    "PodSandboxStatus": (RUNTIME, POD_SANDBOX_STATUS_REQUEST, POD_SANDBOX_STATUS_RESPONSE),
    "ListPodSandbox": (RUNTIME, LIST_POD_SANDBOX_REQUEST, LIST_POD_SANDBOX_RESPONSE),
    "CreateContainer": (RUNTIME, CREATE_CONTAINER_REQUEST,
                        Schema("CreateContainerResponse", {"container_id": (1, "string")})),
    "StartContainer": (RUNTIME, CONTAINER_ID, EMPTY),
    "StopContainer": (RUNTIME, STOP_CONTAINER_REQUEST, EMPTY),
    "RemoveContainer": (RUNTIME, CONTAINER_ID, EMPTY),
    "ListContainers": (RUNTIME, LIST_CONTAINERS_REQUEST, LIST_CONTAINERS_RESPONSE),
    "ContainerStatus": (RUNTIME, CONTAINER_STATUS_REQUEST, CONTAINER_STATUS_RESPONSE),
    "UpdateContainerResources": (RUNTIME, UPDATE_CONTAINER_RESOURCES_REQUEST, EMPTY),
    "ReopenContainerLog": (RUNTIME, CONTAINER_ID, EMPTY),
    "ExecSync": (RUNTIME, EXEC_SYNC_REQUEST, EXEC_SYNC_RESPONSE),
    "ContainerStats": (RUNTIME, CONTAINER_ID, CONTAINER_STATS_RESPONSE),
    "ListImages": (IMAGES, LIST_IMAGES_REQUEST, LIST_IMAGES_RESPONSE),
}
