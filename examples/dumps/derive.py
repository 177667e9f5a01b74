#!/usr/bin/env python3
"""Derives the example dumps this kernel cannot record from lab-vxlan.json (a real dump of examples/lab).

  vlan-host.json      the same host with VLAN guest networks (breth1-N over eth1.N, 8021q), plus a console
                      proxy v-2-VM and a user VM with NICs on two networks
  vr-elsewhere.json   the isolated network's router runs on another host: r-4-VM and its taps are gone

Only collected facts are edited (links, bridges, FDB, domains); the CloudStack model is removed and kvmtopo
infers it again when it reads the file, replacing the model's warnings with its own:  examples/dumps/derive.py && for f in vlan-host vr-elsewhere; do
kvmtopo dump --from examples/dumps/$f.json -o examples/dumps/$f.json; done
"""
import copy, json, pathlib

here = pathlib.Path(__file__).parent
lab = json.loads((here / "lab-vxlan.json").read_text())

def without_model(dump):
    dump = copy.deepcopy(dump)
    dump.pop("networks", None)
    dump.pop("vpcs", None)
    return dump

def rename(dump, old, new):
    text = json.dumps(dump).replace(f'"{old}"', f'"{new}"')
    return json.loads(text)

def tap(ifindex, name, mac, master):
    return {"addresses": [], "bridgePort": {"cost": 100, "priority": 32, "state": "forwarding"}, "ifindex": ifindex,
            "kind": "tun", "mac": "fe" + mac[2:], "master": master, "mtu": 1500, "name": name,
            "operState": "unknown", "up": True}

def nic(index, mac, bridge, tap, system):
    n = {"bridge": bridge, "hostBridge": bridge, "index": index, "mac": mac, "model": "virtio", "romBarOff": system,
         "tap": tap, "tapFound": True, "type": "bridge"}
    return n

# A VLAN host: each vxlanN becomes eth1.V on eth1, each brvx-N becomes breth1-V.
vlan = without_model(lab)
for vni, vid in ((1001, 100), (2001, 201), (2002, 202)):
    vlan = rename(vlan, f"vxlan{vni}", f"eth1.{vid}")
    vlan = rename(vlan, f"brvx-{vni}", f"breth1-{vid}")
for link in vlan["links"]:
    if link["name"].startswith("eth1."):
        link.pop("vxlan")
        link["kind"] = "vlan"
        link["vlan"] = {"id": int(link["name"].split(".")[1]), "parent": "eth1", "protocol": "802.1Q"}
        link["mac"] = next(l["mac"] for l in vlan["links"] if l["name"] == "eth1")
eth1 = next(l for l in vlan["links"] if l["name"] == "eth1")
eth1["mtu"] = 1500
vlan["fdb"] = [e for e in vlan["fdb"] if not e.get("remote")]
next_index = max(l["ifindex"] for l in vlan["links"]) + 1
# A console proxy (control, management, public) and a user VM on the isolated network and a VPC tier.
cpvm = {"cloudstack": True, "id": 30, "name": "v-2-VM", "persistent": True, "state": "running",
        "smbios": {"manufacturer": "Apache Software Foundation", "product": "CloudStack KVM Hypervisor"},
        "uuid": "7d1e2c3b-0000-4000-8000-000000000002",
        "nics": [nic(0, "0e:00:a9:fe:02:0b", "cloud0", "vnet40", True),
                 nic(1, "1e:00:c0:00:02:0d", "cloudbr1", "vnet41", True),
                 nic(2, "1e:00:54:00:00:22", "cloudbr0", "vnet42", True)]}
two_nics = {"cloudstack": True, "id": 31, "name": "i-2-12-VM", "persistent": True, "state": "running",
            "smbios": cpvm["smbios"], "uuid": "7d1e2c3b-0000-4000-8000-000000000012",
            "nics": [nic(0, "02:00:4c:5e:00:0c", "breth1-100", "vnet43", False),
                     nic(1, "02:00:4c:5e:00:16", "breth1-201", "vnet44", False)]}
for domain in (cpvm, two_nics):
    vlan["domains"].append(domain)
    for n in domain["nics"]:
        vlan["links"].append(tap(next_index, n["tap"], n["mac"], n["bridge"]))
        next_index += 1
        next(b for b in vlan["bridges"] if b["name"] == n["bridge"])["ports"].append(n["tap"])
for bridge in vlan["bridges"]:
    bridge["ports"].sort()
vlan["domains"].sort(key=lambda d: d["name"])
(here / "vlan-host.json").write_text(json.dumps(vlan, indent=2, sort_keys=True) + "\n")

# The isolated network's router runs elsewhere: its domain and taps are gone from this host.
away = without_model(lab)
router = next(d for d in away["domains"] if d["name"] == "r-4-VM")
taps = {n["tap"] for n in router["nics"]}
away["domains"] = [d for d in away["domains"] if d["name"] != "r-4-VM"]
away["links"] = [l for l in away["links"] if l["name"] not in taps]
for bridge in away["bridges"]:
    bridge["ports"] = [p for p in bridge["ports"] if p not in taps]
away["fdb"] = [e for e in away["fdb"] if e["port"] not in taps]
(here / "vr-elsewhere.json").write_text(json.dumps(away, indent=2, sort_keys=True) + "\n")
