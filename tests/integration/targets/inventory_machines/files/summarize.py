"""Print a small JSON summary of `ansible-inventory --list` output (the full output is tens of megabytes)."""
import json
import sys


def plain(value):
    """ansible-inventory writes strings marked unsafe as {"__ansible_unsafe": "..."} (every host variable of the plugin)."""
    if isinstance(value, dict) and set(value) == {'__ansible_unsafe'}:
        return value['__ansible_unsafe']
    if isinstance(value, dict):
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


with open(sys.argv[1]) as handle:
    data = json.load(handle)
hostvars = data.get('_meta', {}).get('hostvars', {})
groups = dict((name, group.get('hosts', [])) for name, group in data.items() if name != '_meta' and isinstance(group, dict))
sample = plain(hostvars[sorted(hostvars)[0]]) if hostvars else {}
print(json.dumps({
    'hosts': len(hostvars),
    'groups': sorted(groups),
    'group_sizes': dict((name, len(hosts)) for name, hosts in groups.items()),
    'compromised': sorted(groups.get('defender_tag_compromised', [])),
    'sample_vars': sorted(sample),
    'sample_tags': sample.get('defender_tags'),
    'ansible_vars': sorted(set(k for v in hostvars.values() for k in v if k.startswith('ansible_'))),
    'ids_unique': len(set(plain(v).get('defender_id') for v in hostvars.values())) == len(hostvars),
}))
