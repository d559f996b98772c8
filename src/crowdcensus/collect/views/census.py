"""The live census over the API: read the latest one, ask for a new one, get its plots.

Reading never computes: it returns the census stored by the helper process
(:mod:`crowdcensus.collect.census_runner`) and whether a new one is being
computed. ``POST`` only queues the work and answers 202 at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from crowdcensus.collect.sessions import require_admin, require_reader
from crowdcensus.collect.views.api import StudyId, study_or_404

router = APIRouter(prefix="/api")
PlotName = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,40}$")]


def census_state(request: Request, study_id: int, payload: dict | None) -> dict:
    """The stored census with whether a new one is on its way, and the plots' URLs."""
    runner = request.app.state.census
    plots = (payload or {}).get("plots", [])
    return {
        "study_id": study_id,
        "enabled": runner is not None,
        "computing": bool(runner is not None and runner.computing(study_id)),
        "census": payload,
        "plot_urls": {name: f"/api/studies/{study_id}/census/{name}.png" for name in plots},
    }


async def load_census(request: Request, study_id: int) -> dict:
    """The census state of a study (404 when there is no such study)."""
    from crowdcensus.collect.census import latest_census

    await study_or_404(request, study_id)
    payload = await run_in_threadpool(latest_census, request.app.state.engine, study_id)
    return census_state(request, study_id, payload)


def queue_census(request: Request, study_id: int, reason: str = "on demand") -> bool:
    """Queue a census computation; 503 when the census is turned off."""
    runner = request.app.state.census
    if runner is None:
        raise HTTPException(503, "the live census is off (the service was started with "
                                 "--no-census)")
    return runner.request(study_id, reason)


@router.get("/studies/{study_id}/census", dependencies=[Depends(require_reader)])
async def get_census(request: Request, study_id: StudyId) -> Response:
    """The latest live census of a study (``census`` is null before the first one)."""
    return JSONResponse(await load_census(request, study_id),
                        headers={"cache-control": "no-store"})


@router.post("/studies/{study_id}/census", status_code=202,
             dependencies=[Depends(require_admin)])
async def refresh_census(request: Request, study_id: StudyId) -> dict:
    """Recompute the study's census in the background (202 at once)."""
    await study_or_404(request, study_id)
    queued = await run_in_threadpool(queue_census, request, study_id)  # starts a process
    return {"study_id": study_id, "queued": queued, "computing": True}


@router.get("/studies/{study_id}/census/{name}.png", dependencies=[Depends(require_reader)])
async def census_png(request: Request, study_id: StudyId, name: PlotName) -> Response:
    """One figure of the latest census, as PNG."""
    from crowdcensus.collect.census import census_plot

    png = await run_in_threadpool(census_plot, request.app.state.engine, study_id, name)
    if png is None:
        raise HTTPException(404, f"no census plot {name!r} for study {study_id}")
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})
