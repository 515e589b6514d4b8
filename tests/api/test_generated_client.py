"""A client generated from the OpenAPI document by a third party works, errors included.

openapi-python-client reads the served document; it must generate without a warning
(no endpoint left out, no answer untyped), and the client must make an authenticated
call and read both a success and a problem answer as typed objects.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from pathlib import Path

import httpx
from conftest import MakeToken
from factories import institution_body, wrong_check_character

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
SETTINGS = Path(__file__).parent.parent / "client" / "generator.yaml"
ZERO_ID = "00000000-0000-0000-0000-000000000000"


async def _generate(schema_file: Path, package_dir: Path) -> str:
    # The generator formats its output with ruff, which lives beside it in the venv.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    process = await asyncio.create_subprocess_exec(
        GENERATOR,
        "generate",
        "--path",
        str(schema_file),
        "--meta",
        "none",
        "--output-path",
        str(package_dir),
        "--config",
        str(SETTINGS),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_a_generated_client_reads_answers_and_problems_as_types(
    client: httpx.AsyncClient, live_server: str, make_token: MakeToken, tmp_path: Path
) -> None:
    schema_file = tmp_path / "openapi.json"
    schema_file.write_bytes((await client.get("/schema/openapi.json")).content)
    output = await _generate(schema_file, tmp_path / "credit_client")
    assert "warning" not in output.lower(), output

    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module("credit_client")
        create = importlib.import_module("credit_client.api.registry.api_v1_institutions_create")
        read = importlib.import_module(
            "credit_client.api.registry.api_v1_institutions_institution_id_read"
        )
        models = importlib.import_module("credit_client.models")
    finally:
        sys.path.remove(str(tmp_path))

    token = await make_token("admin")
    api = generated.AuthenticatedClient(base_url=live_server, token=token)
    async with api:
        created = await create.asyncio(
            client=api, body=models.InstitutionCreate.from_dict(institution_body(1))
        )
        assert isinstance(created, models.InstitutionOut)
        assert created.uscc == institution_body(1)["uscc"]

        again = await read.asyncio(client=api, institution_id=created.id)
        assert isinstance(again, models.InstitutionOut)
        assert again.name == institution_body(1)["name"]

        missing = await read.asyncio(client=api, institution_id=ZERO_ID)
        assert isinstance(missing, models.Problem)
        assert missing.status == 404

        bad = institution_body(2, uscc=wrong_check_character(institution_body(2)["uscc"]))
        refused = await create.asyncio(client=api, body=models.InstitutionCreate.from_dict(bad))
        assert isinstance(refused, models.Problem)
        assert refused.status == 422
        assert [error.field for error in refused.errors] == ["uscc"]
