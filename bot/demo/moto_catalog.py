"""Instance types the demo fleet uses that moto's catalog lacks (the P3 GPU family).

Facts from AWS's published specifications: p3.2xlarge has 8 vCPUs, 61 GiB and one V100 with
16 GiB; p3.8xlarge has 32 vCPUs, 244 GiB and four.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.ec2.models import instance_types as moto_types

P3 = {
    "p3.2xlarge": {"vcpus": 8, "memory_mib": 62464, "gpus": 1},
    "p3.8xlarge": {"vcpus": 32, "memory_mib": 249856, "gpus": 4},
}
V100_MEMORY_MIB = 16384


def add_p3_types() -> None:
    """Teaches moto's DescribeInstanceTypes the P3 sizes (idempotent)."""
    template = moto_types.INSTANCE_TYPES["g4dn.xlarge"]
    for name, spec in P3.items():
        if name in moto_types.INSTANCE_TYPES:
            continue
        moto_types.INSTANCE_TYPES[name] = _p3_facts(template, name, spec)
        moto_types.InstanceTypeBackend.instance_types.append(moto_types.InstanceType(name))


def _p3_facts(template: dict[str, Any], name: str, spec: dict[str, int]) -> dict[str, Any]:
    facts = copy.deepcopy(template)
    facts["InstanceType"] = name
    facts["VCpuInfo"] = {**facts["VCpuInfo"], "DefaultVCpus": spec["vcpus"]}
    facts["MemoryInfo"] = {"SizeInMiB": spec["memory_mib"]}
    gpu = {**facts["GpuInfo"]["Gpus"][0], "Count": spec["gpus"], "Name": "V100"}
    gpu["MemoryInfo"] = {"SizeInMiB": V100_MEMORY_MIB}
    facts["GpuInfo"] = {"Gpus": [gpu], "TotalGpuMemoryInMiB": V100_MEMORY_MIB * spec["gpus"]}
    facts["InstanceStorageSupported"] = False
    facts.pop("InstanceStorageInfo", None)
    return facts
