"""The random pinhole camera that films a synthetic 3D figure: projection and framing.

World frame (tenderlib.synthetic.figure): right-handed, metres, y up, floor at y = 0; at yaw 0 the person
faces +z and their left is +x. Camera frame (OpenCV): x right, y down, z forward, so a camera
point (x, y, z) lands on pixel

    u = f x / z + cx,        v = f y / z + cy        (v grows downwards in the image).

A `Camera` maps world to camera coordinates with a fixed rotation R and translation t,
X_cam = R X + t, followed per frame by a slight hand-held shake (a rotation S(t) about the
camera centre, then an offset o(t), both in camera coordinates): X_cam(t) = S(t) (R X + t) + o(t).

`sample_camera` draws a camera that looks at the subject from a random view (yaw around the
person, pitch, roll), with a random focal length and image size, and sets the distance and the
lateral offset so that the union bounding box over the clip of the points that matter for the
framing takes a drawn fraction of the image:

- 'full':  the whole figure, inside the image on every frame (shake included);
- 'upper': head and trunk down to the hips fill the image from near its top to about its
           bottom edge, so the legs fall out of frame and the arms may leave it (UBody style);
- 'face':  the face region (plus nose, eyes and ears);
- 'hand':  both hands.

Performance note (instruction counts under callgrind, 100 frames x 133 points): numpy is slow on
ops that broadcast over, or reduce along, an innermost axis of length 2 or 3 (several times a
contiguous op), and OpenBLAS spends ~1M instructions on a (T N, 3) @ (3, 3) product against 60k for
a matrix-vector one; so transforms work on one contiguous (T, N) array per coordinate and
interleave once at the end.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tenderlib.data.skeleton import KEYPOINT_INDEX, NUM_KEYPOINTS, REGIONS

logger = logging.getLogger(__name__)

FRAMINGS = ("full", "upper", "face", "hand")
_MIN_DEPTH = 1e-6      # projection guard for points at or behind the camera plane (metres)
_NEAR = 0.2            # no framed point comes closer to the lens than this (metres)
_FIT_STEPS = 8         # iterations of the framing solve (it converges in 3-5)
_FIT_FRAMES = 16       # the solve looks at this many evenly spaced frames at most


def _framing_indices() -> dict[str, np.ndarray]:
    """Keypoint indices whose union bounding box defines each framing."""
    def span(s: slice) -> np.ndarray:
        return np.arange(s.start, s.stop)

    head = np.array([KEYPOINT_INDEX[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")])
    trunk = np.array([KEYPOINT_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")])
    return {
        "full": np.arange(NUM_KEYPOINTS),
        "upper": np.concatenate([head, trunk, span(REGIONS["face"])]),  # the arms may leave the frame
        "face": np.concatenate([head, span(REGIONS["face"])]),
        "hand": np.concatenate([span(REGIONS["left_hand"]), span(REGIONS["right_hand"])]),
    }


FRAMING_INDICES: dict[str, np.ndarray] = _framing_indices()


# ----------------------------------------------------------------------------- the camera
@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera with optional per-frame shake.

    rotation:       (3, 3) world -> camera rotation R (rows: camera x, y, z axes in world coordinates).
    translation:    (3,) t, so X_cam = R X + t (metres).
    focal:          focal length f in pixels (square pixels).
    principal:      (cx, cy) principal point in pixels.
    image_size:     (width, height) in pixels.
    shake_rotation: (T, 3) per-frame small rotation (axis-angle, radians, camera axes) or None.
    shake_offset:   (T, 3) per-frame offset in camera coordinates (metres) or None.
    """

    rotation: np.ndarray
    translation: np.ndarray
    focal: float
    principal: tuple[float, float]
    image_size: tuple[int, int]
    shake_rotation: np.ndarray | None = None
    shake_offset: np.ndarray | None = None

    def __post_init__(self) -> None:
        R = np.asarray(self.rotation, dtype=np.float64)
        if R.shape != (3, 3) or np.abs(R @ R.T - np.eye(3)).max() > 1e-6 or np.linalg.det(R) <= 0:
            raise ValueError(f"rotation must be a (3, 3) proper rotation matrix (R R^T = I, det = +1), got {R!r}")
        t = np.asarray(self.translation, dtype=np.float64)
        if t.shape != (3,) or not np.isfinite(t).all():
            raise ValueError(f"translation must be a finite (3,) vector, got {t!r}")
        if not (np.isfinite(self.focal) and self.focal > 0):
            raise ValueError(f"focal must be > 0 pixels, got {self.focal!r}")
        if len(self.principal) != 2:
            raise ValueError(f"principal must be (cx, cy), got {self.principal!r}")
        if len(self.image_size) != 2 or min(self.image_size) <= 0:
            raise ValueError(f"image_size must be (width, height) > 0, got {self.image_size!r}")
        object.__setattr__(self, "rotation", R)
        object.__setattr__(self, "translation", t)
        object.__setattr__(self, "focal", float(self.focal))
        object.__setattr__(self, "principal", (float(self.principal[0]), float(self.principal[1])))
        object.__setattr__(self, "image_size", (int(self.image_size[0]), int(self.image_size[1])))
        lengths = set()
        for name in ("shake_rotation", "shake_offset"):
            s = getattr(self, name)
            if s is None:
                continue
            s = np.asarray(s, dtype=np.float64)
            if s.ndim != 2 or s.shape[1] != 3 or not np.isfinite(s).all():
                raise ValueError(f"{name} must be a finite (T, 3) array or None, got shape {s.shape}")
            object.__setattr__(self, name, s)
            lengths.add(s.shape[0])
        if len(lengths) > 1:
            raise ValueError(f"shake_rotation and shake_offset must have the same length T, got {sorted(lengths)}")
        shake = None                                               # (S (T, 3, 3), o (T, 3)), computed once
        if lengths:
            n = lengths.pop()
            rot = self.shake_rotation if self.shake_rotation is not None else np.zeros((n, 3))
            off = self.shake_offset if self.shake_offset is not None else np.zeros((n, 3))
            shake = (_rodrigues(rot), off)
        object.__setattr__(self, "_shake_matrices", shake)

    @property
    def num_frames(self) -> int | None:
        """Length of the shake, or None for a static camera (which films any number of frames)."""
        for s in (self.shake_rotation, self.shake_offset):
            if s is not None:
                return int(s.shape[0])
        return None

    @property
    def center(self) -> np.ndarray:
        """(3,) the camera centre in world coordinates (without shake): C = -R^T t."""
        return -self.rotation.T @ self.translation


def _rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle (T, 3) -> rotation matrices (T, 3, 3), exact, safe at zero angle."""
    theta = np.sqrt((rotvec * rotvec).sum(axis=1))                 # (T,)
    k = rotvec / np.where(theta > 0, theta, 1.0)[:, None]          # (T, 3) unit axis (0 where theta = 0)
    K = np.zeros((len(rotvec), 3, 3))
    K[:, 0, 1], K[:, 0, 2] = -k[:, 2], k[:, 1]
    K[:, 1, 0], K[:, 1, 2] = k[:, 2], -k[:, 0]
    K[:, 2, 0], K[:, 2, 1] = -k[:, 1], k[:, 0]
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    return np.eye(3) + s * K + (1.0 - c) * (K @ K)


def _shake(camera: Camera, num_frames: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The camera's per-frame shake (S (T, 3, 3), o (T, 3)), or None for a static camera."""
    n = camera.num_frames
    if n is not None and n != num_frames:
        raise ValueError(f"points have {num_frames} frames but the camera shake has {n}; "
                         "pass as many frames as the camera was sampled for")
    return camera._shake_matrices


def _transform(points: np.ndarray, R: np.ndarray, t: np.ndarray,
               shake: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X_cam = S(t) (R X + t) + o(t) for points (T, N, 3) -> x, y, z, each (T, N) float64 contiguous.

    One matrix-vector product per coordinate (a (T N, 3) @ (3, 3) product costs 5x more in
    OpenBLAS), then the per-frame shake as (T, 1) coefficients.
    """
    T, N = points.shape[:2]
    flat = points.reshape(T * N, 3)
    x, y, z = ((flat @ R[i]).reshape(T, N) + t[i] for i in range(3))
    if shake is None:
        return x, y, z
    S, o = shake
    S = np.ascontiguousarray(S.transpose(1, 2, 0))[..., None]      # (3, 3, T, 1) per-frame coefficients
    o = np.ascontiguousarray(o.T)[..., None]                       # (3, T, 1)
    out = []
    for i in range(3):
        c = S[i, 0] * x
        c += S[i, 1] * y
        c += S[i, 2] * z
        c += o[i]
        out.append(c)
    return out[0], out[1], out[2]


def _check_points(points: np.ndarray, name: str = "points") -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[-1] != 3 or points.shape[0] == 0:
        raise ValueError(f"{name} must have shape (T, N, 3) with T >= 1, got {points.shape}")
    if not np.isfinite(points.sum()):                              # finite iff every element is (one pass)
        raise ValueError(f"{name} contain NaN or infinite values")
    return points


def _pixels(x: np.ndarray, y: np.ndarray, z: np.ndarray, focal: float, principal: tuple[float, float]
            ) -> tuple[np.ndarray, np.ndarray]:
    """(T, N) camera coordinates -> pixel coordinates u, v, each (T, N) float64 contiguous."""
    inv = np.maximum(z, _MIN_DEPTH)                                # guard for z <= 0
    np.divide(focal, inv, out=inv)
    u, v = x * inv, y * inv
    u += principal[0]
    v += principal[1]
    return u, v


def _pinhole(x: np.ndarray, y: np.ndarray, z: np.ndarray, camera: Camera,
             uv: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(T, N) camera coordinates (and their pixels if known) -> (uv (T, N, 2) float32, depth (T, N) float32)."""
    u, v = _pixels(x, y, z, camera.focal, camera.principal) if uv is None else uv
    out = np.empty(z.shape + (2,), dtype=np.float32)
    out[..., 0], out[..., 1] = u, v
    return out, z.astype(np.float32)


def to_camera(points: np.ndarray, camera: Camera) -> np.ndarray:
    """World points (T, N, 3) -> camera coordinates (T, N, 3) float64, shake applied per frame."""
    points = _check_points(points)
    xyz = _transform(points, camera.rotation, camera.translation, _shake(camera, points.shape[0]))
    return np.stack(xyz, axis=-1)                                  # (T, N, 3)


def directions_to_camera(directions: np.ndarray, camera: Camera) -> np.ndarray:
    """World directions (T, 3), e.g. the person's facing, -> camera coordinates (T, 3) (rotation only)."""
    directions = np.asarray(directions, dtype=np.float64)
    if directions.ndim != 2 or directions.shape[1] != 3:
        raise ValueError(f"directions must have shape (T, 3), got {directions.shape}")
    d = directions @ camera.rotation.T                             # (T, 3)
    shake = _shake(camera, len(d))
    return d if shake is None else np.einsum("tij,tj->ti", shake[0], d)


def project_camera_points(points_cam: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole projection of camera-space points (T, N, 3) -> (uv (T, N, 2) float32, depth (T, N) float32).

    Points at or behind the camera plane keep their depth (<= 0) and get a finite but meaningless uv.
    """
    points_cam = _check_points(points_cam, "points_cam")
    return _pinhole(points_cam[..., 0], points_cam[..., 1], points_cam[..., 2], camera)


def project(points: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """World points (T, N, 3) -> (uv (T, N, 2) float32 pixels, depth (T, N) float32 metres).

    The shake, if any, is applied per frame (T must equal the camera's shake length). Points
    behind the camera get depth <= 0; their uv is finite but meaningless (the caller handles them).
    """
    points = _check_points(points)
    return _pinhole(*_transform(points, camera.rotation, camera.translation, _shake(camera, points.shape[0])), camera)


# ----------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class CameraConfig:
    """Ranges from which `sample_camera` draws (uniformly unless said otherwise). Angles in degrees."""

    yaw_deg: tuple[float, float] = (-60.0, 60.0)     # view azimuth around the person; 0 = in front, +90 = at their left
    pitch_deg: tuple[float, float] = (-10.0, 25.0)   # elevation; + = camera above, looking down
    roll_deg: tuple[float, float] = (-4.0, 4.0)      # tilt of the image about the optical axis
    focal_frac: tuple[float, float] = (0.7, 1.6)     # focal length in units of the image's longer side
    image_sizes: tuple[tuple[int, int], ...] = (     # (width, height), drawn uniformly
        (1280, 720), (1920, 1080), (640, 480), (640, 360), (720, 1280), (480, 480))
    fill_full: tuple[float, float] = (0.35, 0.9)     # 'full': the subject's box over the larger of height/width
    upper_top: tuple[float, float] = (0.05, 0.15)    # 'upper': top of the head-and-trunk box, share of image height
    upper_bottom: tuple[float, float] = (0.92, 1.1)  # 'upper': bottom of the box (the hips); > 1 cuts them
    fill_face: tuple[float, float] = (0.3, 0.75)     # 'face': the face box over the larger of height/width
    fill_hand: tuple[float, float] = (0.3, 0.8)      # 'hand': the box of both hands, likewise
    placement_jitter: float = 0.6                    # share of the free margin used to move the box off centre
    shake_prob: float = 0.6                          # probability that the camera is hand-held (else a tripod)
    shake_rot_deg: float = 0.4                       # hand-held: random-walk rotation, std at the clip end
    shake_offset_m: float = 0.01                     # hand-held: random-walk offset (metres), std at the clip end
    shake_smooth: int = 5                            # moving-average window (frames) that smooths the walk

    def __post_init__(self) -> None:
        for name in ("yaw_deg", "pitch_deg", "roll_deg", "focal_frac", "fill_full", "upper_top",
                     "upper_bottom", "fill_face", "fill_hand"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"{name} must be a (low, high) range with low <= high, got {(lo, hi)}")
        if not (-89.0 <= self.pitch_deg[0] and self.pitch_deg[1] <= 89.0):
            raise ValueError(f"pitch_deg must lie within [-89, 89], got {self.pitch_deg}")
        if self.focal_frac[0] <= 0:
            raise ValueError(f"focal_frac must be > 0, got {self.focal_frac}")
        for name in ("fill_full", "fill_face", "fill_hand"):
            lo, hi = getattr(self, name)
            if not (0 < lo and hi <= 1):
                raise ValueError(f"{name} must lie within (0, 1], got {(lo, hi)}")
        if not (0 <= self.upper_top[0] and self.upper_top[1] < self.upper_bottom[0]):
            raise ValueError(f"upper_top {self.upper_top} must lie in the image above upper_bottom {self.upper_bottom}")
        if not self.image_sizes or any(len(s) != 2 or min(s) <= 0 for s in self.image_sizes):
            raise ValueError(f"image_sizes must be a non-empty tuple of (width, height) > 0, got {self.image_sizes}")
        if not 0 <= self.placement_jitter <= 1:
            raise ValueError(f"placement_jitter must be in [0, 1], got {self.placement_jitter}")
        if not 0 <= self.shake_prob <= 1:
            raise ValueError(f"shake_prob must be in [0, 1], got {self.shake_prob}")
        if self.shake_rot_deg < 0 or self.shake_offset_m < 0 or self.shake_smooth < 1:
            raise ValueError("shake_rot_deg and shake_offset_m must be >= 0 and shake_smooth >= 1, got "
                             f"{self.shake_rot_deg}, {self.shake_offset_m}, {self.shake_smooth}")


def look_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) world -> camera rotation of a camera that views a target from direction (yaw, pitch).

    The camera sits on the ray (cos p sin y, sin p, cos p cos y) from the target: yaw 0 is in
    front of a person facing +z, yaw +90 deg at their left (+x), pitch > 0 above, looking down.
    Roll turns the image about the optical axis. Angles in radians; |pitch| < 90 deg.
    """
    cp, sp, cy, sy = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    z = np.array([-cp * sy, -sp, -cp * cy])                       # optical axis, towards the target
    x = np.array([cy, 0.0, -sy])                                  # z x up, normalised: level, image right
    y = np.array([z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]])  # z x x: down
    c, s = np.cos(roll), np.sin(roll)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.stack([x, y, z])


def _sample_shake(rng: np.random.Generator, cfg: CameraConfig, num_frames: int
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A smooth, slight random walk (T, 3) for rotation (radians) and offset (metres), or (None, None)."""
    if rng.random() >= cfg.shake_prob or num_frames < 2:
        return None, None
    steps = rng.standard_normal((num_frames, 6)) / np.sqrt(num_frames)  # walk std 1 at the clip end
    walk = np.cumsum(steps, axis=0)                               # (T, 6)
    k = min(cfg.shake_smooth, num_frames)
    if k > 1:                                                     # moving average, edges padded
        pad = np.pad(walk, ((k // 2 + 1, k - 1 - k // 2), (0, 0)), mode="edge")
        c = np.cumsum(pad, axis=0)
        walk = (c[k:] - c[:-k]) / k                               # (T, 6)
    walk -= walk.mean(axis=0)
    return walk[:, :3] * np.deg2rad(cfg.shake_rot_deg), walk[:, 3:] * cfg.shake_offset_m


@dataclass(frozen=True, eq=False)
class Shot:
    """A sampled camera and what it sees (the result of `film`).

    camera:     the Camera.
    points_cam: (T, N, 3) float64 camera coordinates, shake applied (the detector's input).
    uv:         (T, N, 2) float32 pixels.
    depth:      (T, N) float32 metres (<= 0 behind the camera).
    """

    camera: Camera
    points_cam: np.ndarray
    uv: np.ndarray
    depth: np.ndarray


def sample_camera(points: np.ndarray, rng: np.random.Generator, cfg: CameraConfig = CameraConfig(),
                  framing: str = "full", num_frames: int | None = None, *, heading: float = 0.0) -> Camera:
    """Draw a camera that films `points` (T, 133, 3) world metres with the given framing.

    rng:        the only source of randomness (same rng state -> same camera).
    num_frames: length of the clip the camera films (the shake length); default T. When it
                is larger than T, `points` are taken as a uniform temporal subsample of the
                clip: frame i is clip frame round(i (num_frames - 1) / (T - 1)).
    heading:    the person's facing as a world yaw (radians, 0 = +z); the view yaw is relative to it.

    The solve: with R fixed, a camera at translation (sx, sy, d) from the target sees a rotated,
    target-centred point P at u = f (P_x + sx) / (P_z + d) + cx. The inverse box size is nearly
    linear in d, so secant steps on it set the size, while the lateral offset (sx, sy) moves the
    box centre to its (jittered) place. The solve leaves out the shake (it is slight) and looks at
    a temporal subsample; for 'full' a last check on every frame with the shake steps the camera
    back until the whole figure is inside.
    """
    return _sample(points, rng, cfg, framing, num_frames, heading)[0]


def film(points: np.ndarray, rng: np.random.Generator, cfg: CameraConfig = CameraConfig(),
         framing: str = "full", *, heading: float = 0.0) -> Shot:
    """`sample_camera` for the whole clip, then `to_camera` and `project`, in one pass.

    Same draws as sample_camera(points, rng, cfg, framing, heading=heading), so the same camera;
    cheaper than the three calls because the 'full' framing check has transformed every point already.
    """
    camera, seen = _sample(points, rng, cfg, framing, None, heading)
    xyz, uv = seen if seen is not None else (
        _transform(_check_points(points), camera.rotation, camera.translation, _shake(camera, len(points))), None)
    return Shot(camera, np.stack(xyz, axis=-1), *_pinhole(*xyz, camera, uv))


def _sample(points: np.ndarray, rng: np.random.Generator, cfg: CameraConfig, framing: str,
            num_frames: int | None, heading: float) -> tuple[Camera, tuple | None]:
    """The camera, and ((x, y, z), (u, v)) of every point when the 'full' check computed them."""
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
    points = _check_points(points)
    if points.shape[1] != NUM_KEYPOINTS:
        raise ValueError(f"points must have {NUM_KEYPOINTS} keypoints per frame, got shape {points.shape}")
    T = points.shape[0]
    num_frames = T if num_frames is None else int(num_frames)
    if num_frames < T:
        raise ValueError(f"num_frames must be >= the {T} frames of points, got {num_frames}")

    # --- draws, in a fixed order (determinism)
    yaw, pitch, roll = (np.deg2rad(rng.uniform(*r)) for r in (cfg.yaw_deg, cfg.pitch_deg, cfg.roll_deg))
    W, H = cfg.image_sizes[int(rng.integers(len(cfg.image_sizes)))]
    focal = float(rng.uniform(*cfg.focal_frac)) * max(W, H)       # a portrait frame is the same lens turned
    if framing == "upper":
        top, bottom = rng.uniform(*cfg.upper_top), rng.uniform(*cfg.upper_bottom)
        fill = bottom - top
    else:
        fill = float(rng.uniform(*{"full": cfg.fill_full, "face": cfg.fill_face, "hand": cfg.fill_hand}[framing]))
    jitter = rng.uniform(-1.0, 1.0, size=2) * cfg.placement_jitter
    shake_rot, shake_off = _sample_shake(rng, cfg, num_frames)

    # --- the framed points (a temporal subsample), in camera axes around the centre of their box
    stride = max(1, -(-T // _FIT_FRAMES))
    sel = points[::stride, FRAMING_INDICES[framing]]               # (T', M, 3)
    flat = sel.reshape(-1, 3).T                                    # (3, T' M) view
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    target = (lo + hi) / 2.0
    R = look_rotation(yaw + heading, pitch, roll)
    Px, Py, Pz = R @ (flat - target[:, None])                      # (T' M,) each, target at the origin

    def measure(d: float, s: np.ndarray) -> tuple[float, np.ndarray, float]:
        """Relative size (1 = as wanted), the box centre's pixel error, and the depth of its extremes."""
        inv = focal / (Pz + d)
        u, v = (Px + s[0]) * inv, (Py + s[1]) * inv                # pixels from the principal point
        ext = [u.argmin(), u.argmax(), v.argmin(), v.argmax()]    # the extreme points
        u0, u1, v0, v1 = u[ext[0]], u[ext[1]], v[ext[2]], v[ext[3]]
        bw, bh = u1 - u0, v1 - v0
        if framing == "upper":
            size = bh / (fill * H)
            want = np.array([jitter[0] * max(W - bw, 0.0) / 2.0, ((top + bottom) / 2.0 - 0.5) * H])
        else:
            size = max(bw / W, bh / H) / fill
            want = jitter * np.maximum(np.array([W - bw, H - bh]), 0.0) / 2.0
        err = want - np.array([(u0 + u1) / 2.0, (v0 + v1) / 2.0])
        return size, err, float(d + Pz[ext].mean())

    d_min = _NEAR - float(Pz.min())                               # every framed point in front of the lens
    extent = max(float(np.sqrt(((hi - lo) ** 2).sum())), 1e-3)    # box diagonal (metres)
    d = max(focal * extent / (fill * min(W, H)), d_min + extent)  # a first guess
    s = np.zeros(2)                                               # lateral offset (sx, sy), metres
    prev = None
    for _ in range(_FIT_STEPS):
        size, err, depth = measure(d, s)
        s += err * depth / focal                                  # pixels -> metres at the extremes' depth
        if abs(size - 1.0) < 1e-3 and np.abs(err).max() < 0.5:
            break
        if prev is None:                                          # 1/size ~ (d + c) / K: scale about -c
            c = depth - d
            d_new = (d + c) * size - c
        else:                                                     # secant on 1/size, which is ~ linear in d
            d_prev, g_prev = prev
            g = 1.0 / size
            slope = (g - g_prev) / (d - d_prev) if d != d_prev else 0.0
            d_new = d + (1.0 - g) / slope if slope > 0 else d * size
        prev = (d, 1.0 / size)
        d = max(float(d_new), d_min)

    camera = Camera(R, -R @ target + np.array([s[0], s[1], d]), focal, (W / 2.0, H / 2.0), (W, H),
                    shake_rot, shake_off)
    seen = None
    if framing == "full":                                         # every frame, shake included
        shake = camera._shake_matrices
        if shake is not None and T < num_frames:                  # points are a subsample of the clip
            frames = np.rint(np.linspace(0, num_frames - 1, T)).astype(np.int64) if T > 1 else np.zeros(1, np.int64)
            shake = (shake[0][frames], shake[1][frames])
        for _ in range(_FIT_STEPS):
            xyz = _transform(points, R, camera.translation, shake)
            u, v = _pixels(*xyz, focal, camera.principal)         # (T, N)
            u0, u1, v0, v1 = u.min(), u.max(), v.min(), v.max()
            over = max(-u0, u1 - (W - 1.0), -v0, v1 - (H - 1.0))
            if over <= 0:
                seen = (xyz, (u, v))
                break
            s -= np.array([u0 + u1 - W, v0 + v1 - H]) / 2.0 * d / focal  # recentre
            d *= 1.0 + 2.0 * over / min(W, H)                     # and step back
            camera = Camera(R, -R @ target + np.array([s[0], s[1], d]), focal, (W / 2.0, H / 2.0), (W, H),
                            shake_rot, shake_off)
    logger.debug("camera %s: %dx%d f=%.0f yaw=%.0f pitch=%.0f dist=%.2f m shake=%s", framing, W, H, focal,
                 np.rad2deg(yaw), np.rad2deg(pitch), d, shake_rot is not None)
    return camera, (seen if T == num_frames else None)
