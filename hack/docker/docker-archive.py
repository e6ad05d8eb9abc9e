#!/usr/bin/env python3
"""Writes a `docker load` archive of an OCI image archive (hack/images/build.sh).

usage: docker-archive.py OCI_TAR REF OUT_TAR

Docker 26 with a graph driver (overlay2) loads only the docker-archive layout: a manifest.json naming the config,
the layers and the repo tags. The OCI archive already holds every blob, so the output is the same blobs plus that
manifest.json; the layers stay gzip-compressed (docker load decompresses them). REF becomes the image's tag, so the
image needs no `docker tag` afterwards.
"""
import io
import json
import sys
import tarfile


def main(oci_tar: str, ref: str, out_tar: str) -> None:
    with tarfile.open(oci_tar) as oci:
        def blob(digest: str) -> bytes:
            algorithm, hexdigest = digest.split(":", 1)
            return oci.extractfile(f"./blobs/{algorithm}/{hexdigest}").read()

        index = json.loads(oci.extractfile("./index.json").read())
        if len(index["manifests"]) != 1:
            sys.exit(f"docker-archive: {oci_tar} has {len(index['manifests'])} manifests, want 1")
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = manifest["config"]["digest"]
        layers = [layer["digest"] for layer in manifest["layers"]]
        entries = {f"blobs/{d.replace(':', '/')}": blob(d) for d in [config, *layers]}
    entries["manifest.json"] = json.dumps([{
        "Config": f"blobs/{config.replace(':', '/')}",
        "RepoTags": [ref],
        "Layers": [f"blobs/{d.replace(':', '/')}" for d in layers],
    }]).encode()
    with tarfile.open(out_tar, "w") as out:
        for name, data in sorted(entries.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
